//! rvnest's REST API: the types shared by the config file and the API, the server and the client.
