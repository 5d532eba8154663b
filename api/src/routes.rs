//! The API's endpoints: one table of paths and methods, and the routing of a parsed
//! HTTP request to a typed [`ApiRequest`] (or the error answer the API thread gives
//! without involving the VMM).

use serde::Serialize;

use crate::config::{
    BootSource, Drive, DriveUpdate, EntropyConfig, LoggerConfig, MachineConfig,
    MachineConfigUpdate, MetricsConfig, NetworkInterface, NetworkInterfaceUpdate, VsockConfig,
};
use crate::parse::{Body, from_json};
use crate::types::{ActionType, ApiError, InstanceActionInfo, RequestedVmState, VmStateUpdate};

/// An endpoint: its path and the methods it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The path.
    pub path: &'static str,
    /// Its methods, upper case.
    pub methods: &'static [&'static str],
}

/// Every endpoint. `api/openapi.yaml` documents exactly these (a test checks). A
/// segment `{name}` stands for any one non-empty segment.
pub const ROUTES: &[Route] = &[
    Route {
        path: "/drives/{drive_id}",
        methods: &["PUT", "PATCH"],
    },
    Route {
        path: "/entropy",
        methods: &["PUT"],
    },
    Route {
        path: "/vsock",
        methods: &["PUT"],
    },
    Route {
        path: "/network-interfaces/{iface_id}",
        methods: &["PUT", "PATCH"],
    },
    Route {
        path: "/",
        methods: &["GET"],
    },
    Route {
        path: "/version",
        methods: &["GET"],
    },
    Route {
        path: "/boot-source",
        methods: &["PUT"],
    },
    Route {
        path: "/machine-config",
        methods: &["GET", "PUT", "PATCH"],
    },
    Route {
        path: "/actions",
        methods: &["PUT"],
    },
    Route {
        path: "/vm",
        methods: &["PATCH"],
    },
    Route {
        path: "/vm/config",
        methods: &["GET"],
    },
    Route {
        path: "/vm/counters",
        methods: &["GET"],
    },
    Route {
        path: "/logger",
        methods: &["PUT"],
    },
    Route {
        path: "/metrics",
        methods: &["PUT"],
    },
];

/// A request for the VMM, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiRequest {
    /// `GET /`.
    GetInstanceInfo,
    /// `GET /version`.
    GetVersion,
    /// `PUT /boot-source`.
    PutBootSource(BootSource),
    /// `GET /machine-config`.
    GetMachineConfig,
    /// `PUT /machine-config`.
    PutMachineConfig(MachineConfig),
    /// `PATCH /machine-config`.
    PatchMachineConfig(MachineConfigUpdate),
    /// `PUT /actions`.
    Action(ActionType),
    /// `PATCH /vm`.
    SetVmState(RequestedVmState),
    /// `GET /vm/config`.
    GetVmConfig,
    /// `GET /vm/counters`.
    GetCounters,
    /// `PUT /logger`.
    PutLogger(LoggerConfig),
    /// `PUT /metrics`.
    PutMetrics(MetricsConfig),
    /// `PUT /drives/{drive_id}` (the body's `drive_id` is the path's).
    PutDrive(Drive),
    /// `PATCH /drives/{drive_id}`: a new backing file, before or after boot.
    PatchDrive(DriveUpdate),
    /// `PATCH /network-interfaces/{iface_id}`: Firecracker's rate limiters (refused).
    PatchNetworkInterface(NetworkInterfaceUpdate),
    /// `PUT /entropy`.
    PutEntropy(EntropyConfig),
    /// `PUT /network-interfaces/{iface_id}` (the body's `iface_id` is the path's).
    PutNetworkInterface(NetworkInterface),
    /// `PUT /vsock`.
    PutVsock(VsockConfig),
}

/// The VMM's answer to an [`ApiRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body (none for 204).
    pub body: Option<Vec<u8>>,
    /// The VMM ends after this answer: the server stops accepting connections,
    /// removes its socket, and closes this connection after the answer.
    pub last: bool,
}

impl ApiResponse {
    /// 204 No Content: a change was made.
    pub fn no_content() -> ApiResponse {
        ApiResponse {
            status: 204,
            body: None,
            last: false,
        }
    }

    /// This answer, marked as the VMM's last ([`ApiResponse::last`]).
    pub fn and_stop_serving(self) -> ApiResponse {
        ApiResponse { last: true, ..self }
    }

    /// 200 OK with `value` as JSON.
    pub fn ok<T: Serialize>(value: &T) -> ApiResponse {
        match serde_json::to_vec(value) {
            Ok(body) => ApiResponse {
                status: 200,
                body: Some(body),
                last: false,
            },
            Err(e) => ApiResponse::error(500, format!("Cannot encode the answer: {e}")),
        }
    }

    /// An error: `{"fault_message": message}` with `status`.
    pub fn error(status: u16, message: impl Into<String>) -> ApiResponse {
        let body = ApiError {
            fault_message: message.into(),
        };
        ApiResponse {
            status,
            // Serialising a struct of one string cannot fail.
            body: serde_json::to_vec(&body).ok(),
            last: false,
        }
    }
}

/// A request refused before it reaches the VMM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    /// HTTP status: 400, 404 or 405.
    pub status: u16,
    /// The fault message.
    pub message: String,
    /// The `Allow` header of a 405 answer.
    pub allow: Option<String>,
}

impl RouteError {
    fn bad_request(message: impl Into<String>) -> RouteError {
        RouteError {
            status: 400,
            message: message.into(),
            allow: None,
        }
    }
}

/// Maps `method` and `path` with `body` to a typed request.
pub fn route(method: &str, path: &str, body: &[u8]) -> Result<ApiRequest, RouteError> {
    let Some(route) = ROUTES.iter().find(|r| matches_template(r.path, path)) else {
        return Err(RouteError {
            status: 404,
            message: format!("Unknown path {}", printable(path)),
            allow: None,
        });
    };
    if !route.methods.contains(&method) {
        return Err(RouteError {
            status: 405,
            message: format!("Method {} is not allowed on {path}", printable(method)),
            allow: Some(route.methods.join(", ")),
        });
    }
    Ok(match (method, route.path) {
        ("GET", "/") => ApiRequest::GetInstanceInfo,
        ("GET", "/version") => ApiRequest::GetVersion,
        ("GET", "/machine-config") => ApiRequest::GetMachineConfig,
        ("GET", "/vm/config") => ApiRequest::GetVmConfig,
        ("GET", "/vm/counters") => ApiRequest::GetCounters,
        ("PUT", "/boot-source") => ApiRequest::PutBootSource(body_of(body)?),
        ("PUT", "/machine-config") => ApiRequest::PutMachineConfig(body_of(body)?),
        ("PATCH", "/machine-config") => ApiRequest::PatchMachineConfig(body_of(body)?),
        ("PUT", "/logger") => ApiRequest::PutLogger(body_of(body)?),
        ("PUT", "/metrics") => ApiRequest::PutMetrics(body_of(body)?),
        ("PUT", "/actions") => ApiRequest::Action(body_of::<InstanceActionInfo>(body)?.action_type),
        ("PATCH", "/vm") => ApiRequest::SetVmState(body_of::<VmStateUpdate>(body)?.state),
        ("PUT", "/entropy") => ApiRequest::PutEntropy(body_of(body)?),
        ("PUT", "/vsock") => ApiRequest::PutVsock(body_of(body)?),
        ("PUT", "/network-interfaces/{iface_id}") => {
            let iface: NetworkInterface = body_of(body)?;
            let id = path.rsplit('/').next().unwrap_or_default();
            if iface.iface_id != id {
                return Err(RouteError::bad_request(format!(
                    "Invalid request body: iface_id {:?} differs from the path's {:?}",
                    printable(&iface.iface_id),
                    printable(id)
                )));
            }
            ApiRequest::PutNetworkInterface(iface)
        }
        ("PUT", "/drives/{drive_id}") => {
            let drive: Drive = body_of(body)?;
            let id = path.rsplit('/').next().unwrap_or_default();
            if drive.drive_id != id {
                return Err(RouteError::bad_request(format!(
                    "Invalid request body: drive_id {:?} differs from the path's {:?}",
                    printable(&drive.drive_id),
                    printable(id)
                )));
            }
            ApiRequest::PutDrive(drive)
        }
        ("PATCH", "/drives/{drive_id}") => {
            let update: DriveUpdate = body_of(body)?;
            same_id("drive_id", &update.drive_id, path)?;
            ApiRequest::PatchDrive(update)
        }
        ("PATCH", "/network-interfaces/{iface_id}") => {
            let update: NetworkInterfaceUpdate = body_of(body)?;
            same_id("iface_id", &update.iface_id, path)?;
            ApiRequest::PatchNetworkInterface(update)
        }
        _ => {
            return Err(RouteError {
                status: 500,
                message: format!("No handler for {method} {path}"),
                allow: None,
            });
        }
    })
}

/// The body's id must be the path's last segment.
fn same_id(field: &str, id: &str, path: &str) -> Result<(), RouteError> {
    let from_path = path.rsplit('/').next().unwrap_or_default();
    if id == from_path {
        return Ok(());
    }
    Err(RouteError::bad_request(format!(
        "Invalid request body: {field} {:?} differs from the path's {:?}",
        printable(id),
        printable(from_path)
    )))
}

/// Whether `path` fits `template`, whose `{name}` segments match any one non-empty
/// segment.
fn matches_template(template: &str, path: &str) -> bool {
    let mut want = template.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), Some(h)) if w.starts_with('{') && w.ends_with('}') => {
                if h.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

/// Parses a JSON body; the message names the field at fault.
fn body_of<T: Body>(body: &[u8]) -> Result<T, RouteError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RouteError::bad_request("Missing request body"));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| RouteError::bad_request("Invalid request body: not UTF-8"))?;
    from_json(text).map_err(|e| RouteError::bad_request(format!("Invalid request body: {e}")))
}

/// Client-supplied text for a message: at most 64 characters, control characters
/// escaped.
fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().count() > 64 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Backend;

    fn fault(method: &str, path: &str, body: &str) -> RouteError {
        route(method, path, body.as_bytes()).expect_err("refused")
    }

    #[test]
    fn every_route_and_method_maps_to_a_request() {
        let bodies = [
            ("/boot-source", r#"{"kernel_image_path": "/k"}"#),
            (
                "/machine-config",
                r#"{"vcpu_count": 2, "mem_size_mib": 256}"#,
            ),
            ("/actions", r#"{"action_type": "InstanceStart"}"#),
            ("/vm", r#"{"state": "Paused"}"#),
            ("/logger", r#"{"level": "Debug"}"#),
            ("/metrics", r#"{"metrics_path": "/tmp/m"}"#),
            ("/entropy", "{}"),
            ("/vsock", r#"{"guest_cid": 3, "uds_path": "/tmp/v.sock"}"#),
            (
                "/network-interfaces/{iface_id}",
                r#"{"iface_id": "rootfs", "host_dev_name": "tap0"}"#,
            ),
            (
                "/drives/{drive_id}",
                r#"{"drive_id": "rootfs", "path_on_host": "/r", "is_root_device": true}"#,
            ),
        ];
        for r in ROUTES {
            for method in r.methods {
                let body = if *method == "GET" {
                    ""
                } else {
                    bodies
                        .iter()
                        .find(|(p, _)| *p == r.path)
                        .map(|(_, b)| *b)
                        .unwrap_or_default()
                };
                let body = match (*method, r.path) {
                    ("PATCH", "/machine-config") => r#"{"vcpu_count": 2}"#,
                    ("PATCH", "/drives/{drive_id}") => r#"{"drive_id": "rootfs"}"#,
                    ("PATCH", "/network-interfaces/{iface_id}") => r#"{"iface_id": "rootfs"}"#,
                    _ => body,
                };
                let path = r
                    .path
                    .replace("{drive_id}", "rootfs")
                    .replace("{iface_id}", "rootfs");
                assert!(
                    route(method, &path, body.as_bytes()).is_ok(),
                    "{method} {}",
                    r.path
                );
            }
        }
    }

    #[test]
    fn patch_bodies_name_their_device_and_rate_limiters_are_refused() {
        let ok = route(
            "PATCH",
            "/drives/rootfs",
            br#"{"drive_id": "rootfs", "path_on_host": "/new.img"}"#,
        );
        assert!(matches!(ok, Ok(ApiRequest::PatchDrive(_))), "{ok:?}");
        let Err(e) = route("PATCH", "/drives/other", br#"{"drive_id": "rootfs"}"#) else {
            panic!("a drive_id other than the path's is accepted");
        };
        assert_eq!(e.status, 400);
        let Ok(ApiRequest::PatchNetworkInterface(update)) = route(
            "PATCH",
            "/network-interfaces/eth0",
            br#"{"iface_id": "eth0", "rx_rate_limiter": {}}"#,
        ) else {
            panic!("PATCH /network-interfaces not routed");
        };
        let err = update.validate().unwrap_err().to_string();
        assert!(err.contains("rx_rate_limiter"), "{err}");
    }

    #[test]
    fn drive_ids_come_from_the_path_and_must_match_the_body() {
        let body = r#"{"drive_id": "rootfs", "path_on_host": "/r", "is_root_device": true}"#;
        let Ok(ApiRequest::PutDrive(drive)) = route("PUT", "/drives/rootfs", body.as_bytes())
        else {
            panic!("PUT /drives/rootfs");
        };
        assert_eq!(drive.drive_id, "rootfs");
        assert!(drive.is_root_device);
        let e = fault("PUT", "/drives/other", body);
        assert_eq!(e.status, 400);
        assert!(
            e.message.contains("differs from the path's"),
            "{}",
            e.message
        );
        assert_eq!(fault("PUT", "/drives/", body).status, 404);
        assert_eq!(fault("PUT", "/drives/a/b", body).status, 404);
        let e = fault("PUT", "/drives/rootfs", r#"{"drive_id": "rootfs"}"#);
        assert!(
            e.message.contains("missing required field"),
            "{}",
            e.message
        );
    }

    #[test]
    fn typed_bodies() {
        assert_eq!(
            route("PUT", "/actions", br#"{"action_type": "Shutdown"}"#),
            Ok(ApiRequest::Action(ActionType::Shutdown))
        );
        assert_eq!(
            route("PATCH", "/vm", br#"{"state": "Resumed"}"#),
            Ok(ApiRequest::SetVmState(RequestedVmState::Resumed))
        );
        let Ok(ApiRequest::PutMachineConfig(m)) = route(
            "PUT",
            "/machine-config",
            br#"{"vcpu_count": 4, "mem_size_mib": 1024, "backend": "soft"}"#,
        ) else {
            panic!("machine-config");
        };
        assert_eq!(
            (m.vcpu_count, m.mem_size_mib, m.backend),
            (4, 1024, Backend::Soft)
        );
        let Ok(ApiRequest::PatchMachineConfig(u)) =
            route("PATCH", "/machine-config", br#"{"mem_size_mib": 64}"#)
        else {
            panic!("patch");
        };
        assert_eq!(u.mem_size_mib, Some(64));
        assert_eq!(u.vcpu_count, None);
    }

    #[test]
    fn unknown_paths_are_404() {
        let e = fault("GET", "/nope", "");
        assert_eq!((e.status, e.message.as_str()), (404, "Unknown path /nope"));
        assert_eq!(fault("GET", "/vm/", "").status, 404);
        assert_eq!(fault("DELETE", "/balloon/statistics", "").status, 404);
        let e = fault("GET", &format!("/\u{7}{}", "x".repeat(100)), "");
        assert!(
            e.message.contains("\\u{7}") && e.message.ends_with("..."),
            "{}",
            e.message
        );
    }

    #[test]
    fn wrong_methods_are_405_with_allow() {
        let e = fault("DELETE", "/machine-config", "");
        assert_eq!(e.status, 405);
        assert_eq!(e.allow.as_deref(), Some("GET, PUT, PATCH"));
        assert_eq!(e.message, "Method DELETE is not allowed on /machine-config");
        assert_eq!(fault("GET", "/actions", "").allow.as_deref(), Some("PUT"));
        assert_eq!(fault("put", "/actions", "").status, 405);
    }

    #[test]
    fn bad_bodies_are_400_naming_the_field() {
        let cases = [
            ("PUT", "/actions", "", "Missing request body"),
            ("PUT", "/actions", "  \n", "Missing request body"),
            (
                "PUT",
                "/actions",
                "{\"action_type\": ",
                "Invalid request body: JSON syntax error at line 1",
            ),
            (
                "PUT",
                "/actions",
                r#"{"action_type": "Reboot"}"#,
                "Invalid request body: action_type: unknown variant `Reboot`",
            ),
            (
                "PUT",
                "/machine-config",
                r#"{"vcpu_count": 1, "mem_size_mib": 64, "cpu_templat": "T2"}"#,
                "Invalid request body: unknown field \"cpu_templat\" in machine-config",
            ),
            (
                "PUT",
                "/machine-config",
                r#"{"vcpu_count": true, "mem_size_mib": 64}"#,
                "Invalid request body: machine-config.vcpu_count: invalid type: boolean `true`",
            ),
            (
                "PATCH",
                "/vm",
                r#"{"state": "Stopped"}"#,
                "Invalid request body: state: unknown variant `Stopped`",
            ),
            (
                "PUT",
                "/logger",
                r#"{"level": "verbose"}"#,
                "Invalid request body: logger.level: unknown variant `verbose`",
            ),
            (
                "PUT",
                "/metrics",
                "[]",
                "Invalid request body: metrics: invalid type: array, expected an object",
            ),
        ];
        for (method, path, body, prefix) in cases {
            let e = fault(method, path, body);
            assert_eq!(e.status, 400, "{method} {path} {body}");
            assert!(
                e.message.starts_with(prefix),
                "{}: want {prefix}",
                e.message
            );
            assert!(!e.message.contains('\n'));
        }
        assert_eq!(
            route("PUT", "/actions", b"\xff\xfe")
                .expect_err("utf8")
                .message,
            "Invalid request body: not UTF-8"
        );
    }

    #[test]
    fn error_bodies() {
        let r = ApiResponse::error(409, "The VM is not running");
        assert_eq!(r.status, 409);
        assert_eq!(
            r.body.as_deref(),
            Some(br#"{"fault_message":"The VM is not running"}"#.as_slice())
        );
        assert_eq!(ApiResponse::no_content().body, None);
    }
}
