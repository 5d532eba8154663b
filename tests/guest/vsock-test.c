/* A vsock peer for rvnest's end-to-end tests, run inside the guest.
 *
 *   vsock-test listen PORT        accept one connection on PORT, echo every byte back
 *                                 until the host closes its side, print
 *                                 "VSOCK-ECHOED <bytes> <checksum>"
 *   vsock-test connect PORT LEN   connect to the host (CID 2) on PORT, send LEN bytes
 *                                 of a xorshift32 stream, close the sending side and
 *                                 print the host's answer as "VSOCK-REPLY <answer>"
 *
 * Built with riscv64-linux-gnu-gcc -static by tests/tests/vsock.rs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/vm_sockets.h>
#include <unistd.h>

static void die(const char *what)
{
    printf("VSOCK-FAILED %s\n", what);
    fflush(stdout);
    perror(what);
    exit(1);
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            die("write");
        p += w;
        n -= (size_t)w;
    }
}

static int listen_and_echo(unsigned port)
{
    struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (s < 0)
        die("socket");
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind");
    if (listen(s, 1) < 0)
        die("listen");
    printf("VSOCK-LISTENING %u\n", port);
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    if (c < 0)
        die("accept");
    static unsigned char buf[65536];
    unsigned long total = 0, sum = 0;
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n < 0)
            die("read");
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            sum = sum * 31 + buf[i];
        write_all(c, buf, (size_t)n);
        total += (unsigned long)n;
    }
    close(c);
    close(s);
    printf("VSOCK-ECHOED %lu %lu\n", total, sum);
    return 0;
}

static int connect_and_send(unsigned port, unsigned long len)
{
    struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port};
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (s < 0)
        die("socket");
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("connect");
    static unsigned char buf[65536];
    unsigned x = 0x9e3779b9u;
    unsigned long sent = 0;
    while (sent < len) {
        size_t n = len - sent < sizeof buf ? len - sent : sizeof buf;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (unsigned char)x;
        }
        write_all(s, buf, n);
        sent += n;
    }
    if (shutdown(s, SHUT_WR) < 0)
        die("shutdown");
    char reply[256];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(s, reply + got, sizeof reply - 1 - got);
        if (n < 0)
            die("read");
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == sizeof reply - 1)
            break;
    }
    reply[got] = 0;
    close(s);
    printf("VSOCK-REPLY %s", reply);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "listen") == 0)
        return listen_and_echo((unsigned)strtoul(argv[2], NULL, 10));
    if (argc >= 4 && strcmp(argv[1], "connect") == 0)
        return connect_and_send((unsigned)strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10));
    fprintf(stderr, "usage: vsock-test listen PORT | connect PORT LEN\n");
    return 2;
}
