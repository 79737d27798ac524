/*
 * What the agent's C files share. One static binary plays two roles: the guest agent inside a
 * box (agent.c, pod.c) and, on the host, the namespace driver's launcher (launch.c) and the log
 * keeper every driver's logs go through (log_keeper.c, pod_log_keeper.c).
 */
#ifndef A3S_AGENT_H
#define A3S_AGENT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Profiling of a box's start: with A3S_LAUNCH_TRACE=FILE the launcher opens FILE as `trace_fd`
 * and passes it on to the agent (`--trace-fd N`); each step then appends "<wall clock seconds>
 * <pid> <step>" there, so a start can be read against the host side's own clock without strace's
 * overhead. -1: no tracing. */
extern int trace_fd;
void trace(const char *step);

enum { BOX_USER_MAX_GROUPS = 64 };

/* A user as the box's own /etc/passwd and /etc/group define it. */
struct box_user {
  uid_t uid;
  gid_t gid;
  gid_t groups[BOX_USER_MAX_GROUPS]; /* supplementary groups, the primary one first */
  int ngroups;
  char home[512];
};

/* Resolves Docker's user forms (`name`, `uid`, `name:group`, `uid:gid`, and mixes) against the
 * box's /etc/passwd and /etc/group. Returns 0, or -1 with a one-line reason in `err`. */
int resolve_user(const char *spec, struct box_user *out, char *err, size_t errlen);

/* Becomes `user`: supplementary groups, then gid, then uid (the order that still has the
 * privilege to drop). Returns 0, or -1 with errno set. */
int become_user(const struct box_user *user);

/* VM boxes (see vm_setup.c): mounts the host directories shared over virtio-9p, and configures
 * the network card of a box that has one. Both do nothing when the box asks for neither. */
void vm_mount_volumes(void);
void vm_configure_network(void);
/* Sets the VM's hostname from /a3s/hostname, when the box names one. */
void vm_set_hostname(void);

/* Frame types of the agent protocol (wasm/frame's `stream` layout), as pod.c sends them. */
enum { AGENT_F_DATA = 1, AGENT_F_CONTROL = 2, AGENT_F_ERROR = 4 };

/* The largest request payload the agent accepts, plus a terminating NUL. */
#define MAX_PAYLOAD_COPY ((1 << 20) + 1)

/* Sends one text frame on a connection (agent.c); a broken connection is closed. */
void agent_send_text(int conn, int type, uint32_t stream, const char *text);

/* Guest containers of a pod VM (see pod.c). The handlers return 1 when the frame was theirs. */
int pod_handle_control(int conn, uint32_t stream, const unsigned char *p, size_t len);
int pod_handle_data(int conn, uint32_t stream, const unsigned char *p, size_t len);
int pod_handle_close(int conn, uint32_t stream);
/* A connection closed: a container's piped stdin ends with it, a terminal stays. */
void pod_conn_closed(int conn);
/* Adds the descriptors the pod waits on; `owner` receives an index for pod_ready. */
int pod_poll_fds(struct pollfd *fds, int *owner, int max);
void pod_ready(int owner, const struct pollfd *fd);
/* Returns 1 when `pid` was a container's main process (its status is then written). */
int pod_reaped(pid_t pid, int status);
/* In a forked exec child: joins the container's cgroup, namespaces and root; returns 0 in the
 * command's process, -1 with a reason in `err`. The forked relay never returns. */
int pod_enter(const char *id, char *err, size_t errlen);

/*
 * A pod VM's member output goes to the host on one virtio-serial port (`a3s.podlogs`) as
 * records: kind u8 ('d' data, 'e' end), stream u8 (1 stdout, 2 stderr), id length u8, data
 * length u32 BE, the member's id, then the data. The host's log keeper (pod_log_keeper.c) writes
 * each member's data to the logs the host granted it and rotates them; an end record follows a
 * member's last output, before its status is written.
 */
enum {
  POD_LOG_DATA = 'd', POD_LOG_END = 'e', POD_LOG_HEAD = 7, POD_LOG_MAX_ID = 64,
  POD_LOG_MAX_DATA = 65536
};
/* The pod log port, opened by the agent at a pod VM's start (-1: the VM has none). */
void pod_set_log_port(int fd);

/* Makes fds 1 and 2 pipes to a new log keeper process appending to `out` and `err` (either may
 * be NULL: that fd stays), rotating at `max_size` bytes and keeping `max_files` files per stream;
 * see log_keeper.c. Returns 0, or -1 with errno set. */
int keep_logs(const char *out, const char *err, long long max_size, int max_files);
/* `keep-logs`: runs a command with its output through a log keeper; see log_keeper.c. */
int keep_logs_main(int argc, char **argv);

/* The host-side launcher of a namespace box; see launch.c. Never returns on success. */
int launch_main(int argc, char **argv);

#endif
