/*
 * a3s box guest agent: a tiny static supervisor that runs inside every box.
 *
 * It speaks the a3s frame protocol (the `stream` layout of wasm/frame: a 10-byte header of
 * type u8, flags u8, stream id u32 BE, length u32 BE, then the payload) over a unix socket
 * (namespace driver) or a virtio-serial port (qemu driver). See box/agent/README.md for the
 * messages. One poll() loop serves every connection and every running exec; no threads, so
 * the agent stays small and its state easy to reason about.
 */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum { F_DATA = 1, F_CONTROL = 2, F_HEARTBEAT = 3, F_ERROR = 4, F_CLOSE = 5 };
enum { MAX_PAYLOAD = 1 << 20, MAX_FIELDS = 512 };
/* The connection and exec tables start this large and double when full: how many clients and
 * execs a box serves at once is bounded by its memory, descriptors and pids limit, not by a
 * table size (a fixed table refused the client after the last slot). */
enum { FIRST_SLOTS = 32 };
/* Descriptors pod.c may add to one poll (three per guest container). */
enum { POD_POLL_MAX = 3 * 64 };

struct conn {
  int fd;
  unsigned char *buf;
  size_t len;
  unsigned gen;      /* bumped when its client goes, so a reader notices (a VM port stays open) */
};

struct exec {
  int used;
  int conn;          /* index into conns */
  uint32_t stream;   /* the host's stream id */
  pid_t pid;         /* 0 once reaped */
  int status;        /* wait status once reaped */
  int in_fd, out_fd, err_fd;
  int put_fd;        /* file being written by a put, else -1 */
  /* stdin waiting for the process to read it: writes never block the loop, so a process
   * that fills its stdout before reading all its stdin cannot deadlock the agent. */
  unsigned char *in_buf;
  size_t in_len;
  int in_close;      /* close stdin once the buffer drains */
  long long reaped_at; /* when the process was reaped (monotonic ms), else 0 */
};

/* How long an exec's output pipes may stay open after its process ended: a process it left in
 * the background (`sleep 120 &`) holds them, and the exec would not end until that one did. */
#define EXEC_OUTPUT_GRACE_MS 200

static struct conn *conns = NULL;
static int conn_slots = 0;
/* A VM's agent ports: connection slot i serves port_paths[i]. A pod VM has several, so several
 * host clients (execs, attaches, a container's stdin) are served at once; QEMU's socket behind
 * each port takes one client at a time.
 *
 * A port stays open for the agent's life. While the guest holds it open QEMU reads what a host
 * client sends at once; a port the guest had closed leaves a new client's bytes unread in
 * QEMU's socket until something else wakes QEMU's main loop, which may be never. */
enum { MAX_PORTS = 16 };
static char port_paths[MAX_PORTS][64];
static int nports = 0;
static long long port_idle_until[MAX_PORTS];

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether port slot k is polled now. A port with no host client reports hangup at once, so
 * after one it rests a little instead of spinning; returns through `wait_ms` when the next
 * resting port is due (unchanged when none rests). */
static int port_polled(int k, int *wait_ms) {
  long long left = port_idle_until[k] - now_ms();
  if (left <= 0) return 1;
  if (*wait_ms < 0 || left < *wait_ms) *wait_ms = (int)left;
  return 0;
}
static struct exec *execs = NULL;
static int exec_slots = 0;
/* When the agent cannot take another client (no memory or descriptors left), new connections
 * wait in the listen backlog until this time instead of being accepted and dropped. */
static long long accept_rest_until = 0;
static pid_t main_pid = 0;
/* The terminal of a VM's main command when the box asked for one (/a3s/tty): the agent copies
 * what it writes to the console, the box's log, and the host resizes it (`T<rows>x<cols> main`). */
static int main_term = -1;
/*
 * Where a VM's main command writes (/a3s/output: two devices, its stdout's and its stderr's).
 * Each is a line of its own to the host (a virtio-serial port on qemu, a UART on the kvm VMM)
 * that lands in its own log, so the host keeps the two streams apart as a namespace box's are;
 * the console stays the kernel's and the agent's. -1: the console, as a VM without them had it.
 */
static int main_log_out = -1, main_log_err = -1;
static int main_status = -1;
static const char *status_path = NULL;
/*
 * An attached namespace box (`--attach-out FD --attach-err FD`): the main command writes to pipes
 * the agent reads (main_out, main_err); each chunk is appended to the box's log (the agent's own
 * fds 1 and 2) first and then written to the attach pipe, which reaches the caller that started
 * the box as bubblewrap's output reaches its caller. The log always holds every byte; the pipes
 * carry a prefix of it. A caller that goes away (EPIPE) or falls a whole pipe behind (a write
 * that would block) loses both pipes at once: the agent never waits for a caller, and the caller,
 * knowing how many bytes of each stream it got, reads the rest from the log.
 */
static int main_out = -1, main_err = -1;
static int attach_out = -1, attach_err = -1;
/*
 * Attached, the ready byte rides on the main command's first stdout chunk (one write, so the
 * caller wakes once for both, as bubblewrap's caller wakes once for its first byte), or goes
 * alone when the first output is on stderr, when the command ends, or READY_MERGE_MS after the
 * agent was ready, whichever comes first: no byte waits for it, only the caller's notice of a
 * box whose command is silent. The socket listens before the byte is due, so an exec sent once
 * it arrived is served either way. -1 when no ready byte is pending.
 */
enum { READY_MERGE_MS = 5 };
static int ready_pending = -1;
static long long ready_due = 0;
static int timed_out = 0;
int trace_fd = -1;

void trace(const char *step) {
  if (trace_fd < 0) return;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  dprintf(trace_fd, "%lld.%06ld %d %s\n", (long long)now.tv_sec, now.tv_nsec / 1000, getpid(), step);
}

/* Kills everything else in the box. kill(-1) is only safe inside a private pid namespace, where
 * the agent is pid 1 (a VM's init, or a namespace box's under bubblewrap's --as-pid-1; 2 under
 * bubblewrap's own init, as boxes started by earlier versions run); elsewhere only the main
 * group. */
static void kill_all(void) {
  if (getpid() <= 2) kill(-1, SIGKILL);
  else if (main_pid > 0) kill(-main_pid, SIGKILL);
}

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}
static uint32_t get_u32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { struct pollfd w = {fd, POLLOUT, 0}; poll(&w, 1, 1000); continue; }
      return -1;
    }
    p += n; len -= (size_t)n;
  }
  return 0;
}

static void close_conn(int i);

/* Writes the pending ready byte alone (see ready_pending). */
static void send_ready(void) {
  if (ready_pending < 0) return;
  ssize_t ignored = write(ready_pending, "r", 1);
  (void)ignored;
  ready_pending = -1;
}

/* Copies what the main command wrote on its terminal to the console; closes it at the end. */
static void pump_main_term(void) {
  unsigned char chunk[65536];
  for (;;) {
    ssize_t n = read(main_term, chunk, sizeof chunk);
    int log = main_log_out >= 0 ? main_log_out : 1;
    if (n > 0) { if (write_all(log, chunk, (size_t)n) < 0) break; continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    break;
  }
  close(main_term);
  main_term = -1;
}

/* Stops feeding the attached caller: both pipes close together, so it sees the end on both. */
static void drop_attach(void) {
  ready_pending = -1;
  if (attach_out >= 0) { close(attach_out); attach_out = -1; }
  if (attach_err >= 0) { close(attach_err); attach_err = -1; }
}

/* One read of the main command's stdout or stderr pipe: to the log, then to the caller. Returns
 * 0 once the pipe is at its end (or empty, with `drain`), 1 while it may have more. */
static int tee_main_output(int *fd, int log, int drain) {
  unsigned char chunk[65536];
  ssize_t n = read(*fd, chunk, sizeof chunk);
  if (n < 0 && errno == EINTR) return 1;
  if (n < 0 && errno == EAGAIN) return drain ? 0 : 1;
  if (n <= 0) { close(*fd); *fd = -1; return 0; }
  /* The log first: a byte the caller saw is always in the log. */
  write_all(log, chunk, (size_t)n);
  /* The ready byte goes first on the stdout pipe: with this chunk when it is stdout's. */
  int merge = ready_pending >= 0 && log == 1 && ready_pending == attach_out;
  if (!merge) send_ready();
  int attach = log == 1 ? attach_out : attach_err;
  if (attach >= 0) {
    struct iovec parts[2] = {{"r", 1}, {chunk, (size_t)n}};
    ssize_t w = merge ? writev(attach, parts, 2) - 1 : write(attach, chunk, (size_t)n);
    if (merge) ready_pending = -1;
    if (w != n) drop_attach();
  }
  static int teed = 0;
  if (!teed++) trace("agent: first output teed");
  return 1;
}

/* Whatever the main command (and anything that shared its output) wrote is in the pipes once
 * it has ended; read it all before the box reports its end. */
static void drain_main_output(void) {
  if (main_out >= 0) fcntl(main_out, F_SETFL, O_NONBLOCK);
  if (main_err >= 0) fcntl(main_err, F_SETFL, O_NONBLOCK);
  while (main_out >= 0 && tee_main_output(&main_out, 1, 1)) {}
  while (main_err >= 0 && tee_main_output(&main_err, 2, 1)) {}
}

/* Sends one frame; a broken connection is closed rather than retried. */
static void send_frame(int ci, int type, int flags, uint32_t stream, const void *data, size_t len) {
  if (ci < 0 || conns[ci].fd < 0) return;
  unsigned char head[10];
  head[0] = (unsigned char)type; head[1] = (unsigned char)flags;
  put_u32(head + 2, stream); put_u32(head + 6, (uint32_t)len);
  if (write_all(conns[ci].fd, head, 10) < 0 || (len && write_all(conns[ci].fd, data, len) < 0))
    close_conn(ci);
}

static void send_text(int ci, int type, uint32_t stream, const char *text) {
  send_frame(ci, type, 0, stream, text, strlen(text));
}

void agent_send_text(int conn, int type, uint32_t stream, const char *text) {
  send_text(conn, type, stream, text);
}

static void close_fd(int *fd) { if (*fd >= 0) { close(*fd); *fd = -1; } }

static void close_conn(int i) {
  if (conns[i].fd < 0) return;
  if (i < nports) {
    /* A VM port: its host client went away; the port stays open for the next one. */
    port_idle_until[i] = now_ms() + 20;
  } else {
    close(conns[i].fd);
    conns[i].fd = -1;
  }
  free(conns[i].buf); conns[i].buf = NULL; conns[i].len = 0;
  conns[i].gen++;
  pod_conn_closed(i);
  /* Execs of a vanished client lose their output; their processes are killed. */
  for (int e = 0; e < exec_slots; e++) {
    if (!execs[e].used || execs[e].conn != i) continue;
    execs[e].conn = -1;
    if (execs[e].pid > 0) kill(-execs[e].pid, SIGKILL);
    close_fd(&execs[e].in_fd); close_fd(&execs[e].put_fd);
    free(execs[e].in_buf); execs[e].in_buf = NULL; execs[e].in_len = 0;
  }
}

static int find_exec(int ci, uint32_t stream) {
  for (int e = 0; e < exec_slots; e++)
    if (execs[e].used && execs[e].conn == ci && execs[e].stream == stream) return e;
  return -1;
}

/* Doubles the exec table; returns -1 when memory is short (the table stays as it was). */
static int grow_execs(void) {
  int more = exec_slots ? exec_slots * 2 : FIRST_SLOTS;
  struct exec *grown = realloc(execs, (size_t)more * sizeof *grown);
  if (!grown) return -1;
  memset(grown + exec_slots, 0, (size_t)(more - exec_slots) * sizeof *grown);
  execs = grown;
  exec_slots = more;
  return 0;
}

static int new_exec(int ci, uint32_t stream) {
  for (int e = 0; e < exec_slots || grow_execs() == 0; e++) {
    if (execs[e].used) continue;
    memset(&execs[e], 0, sizeof execs[e]);
    execs[e].used = 1; execs[e].conn = ci; execs[e].stream = stream;
    execs[e].in_fd = execs[e].out_fd = execs[e].err_fd = execs[e].put_fd = -1;
    execs[e].reaped_at = 0;
    return e;
  }
  return -1;
}

static void flush_stdin(int e) {
  struct exec *x = &execs[e];
  while (x->in_fd >= 0 && x->in_len > 0) {
    ssize_t n = write(x->in_fd, x->in_buf, x->in_len);
    if (n > 0) { memmove(x->in_buf, x->in_buf + n, x->in_len - (size_t)n); x->in_len -= (size_t)n; continue; }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    x->in_len = 0; /* the process closed its stdin: what it did not read is dropped */
    close_fd(&x->in_fd);
  }
  if (x->in_len == 0 && x->in_close) close_fd(&x->in_fd);
}

static void queue_stdin(int e, const unsigned char *p, size_t len) {
  struct exec *x = &execs[e];
  if (x->in_fd < 0) return;
  if (x->in_len + len > (64u << 20)) return; /* a process that never reads gets no more */
  unsigned char *grown = realloc(x->in_buf, x->in_len + len);
  if (!grown) return;
  x->in_buf = grown;
  memcpy(x->in_buf + x->in_len, p, len);
  x->in_len += len;
  flush_stdin(e);
}

/* The exec finishes once its output pipes are drained and the process is reaped. */
static void maybe_finish(int e) {
  struct exec *x = &execs[e];
  if (!x->used || x->pid != 0 || x->out_fd >= 0 || x->err_fd >= 0) return;
  int code = 0, sig = 0;
  if (WIFEXITED(x->status)) code = WEXITSTATUS(x->status);
  if (WIFSIGNALED(x->status)) { sig = WTERMSIG(x->status); code = 128 + sig; }
  char msg[64];
  snprintf(msg, sizeof msg, "x%d %d", code, sig);
  send_text(x->conn, F_CONTROL, x->stream, msg);
  close_fd(&x->in_fd);
  free(x->in_buf); x->in_buf = NULL; x->in_len = 0;
  x->used = 0;
}

/* Parses an exec request: NUL-separated records, each tagged by its first byte. */
static void start_exec(int ci, uint32_t stream, const unsigned char *p, size_t len) {
  char *argv[MAX_FIELDS + 1], *envp[MAX_FIELDS + 3];
  int argc = 0, envc = 0, tty = 0, has_path = 0, has_home = 0;
  static char home_env[600];
  const char *workdir = NULL, *user = NULL, *container = NULL;
  char *copy = malloc(len + 1);
  if (!copy) { send_text(ci, F_ERROR, stream, "out of memory"); return; }
  memcpy(copy, p, len); copy[len] = 0;
  for (size_t off = 0; off < len;) {
    char *field = copy + off;
    size_t flen = strlen(field);
    switch (field[0]) {
      case 'a': if (argc < MAX_FIELDS) argv[argc++] = field + 1; break;
      case 'e':
        if (envc < MAX_FIELDS) envp[envc++] = field + 1;
        if (strncmp(field + 1, "PATH=", 5) == 0) has_path = 1;
        if (strncmp(field + 1, "HOME=", 5) == 0) has_home = 1;
        break;
      case 'w': workdir = field + 1; break;
      case 'u': user = field + 1; break;
      case 't': tty = 1; break;
      case 'c': container = field + 1; break;
    }
    off += flen + 1;
  }
  if (!has_path) envp[envc++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  argv[argc] = NULL; envp[envc] = NULL;
  if (argc == 0) { send_text(ci, F_ERROR, stream, "exec: no command"); free(copy); return; }
  int e = new_exec(ci, stream);
  if (e < 0) { send_text(ci, F_ERROR, stream, "exec: too many running"); free(copy); return; }
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, master = -1;
  pid_t pid;
  if (tty) {
    pid = forkpty(&master, NULL, NULL, NULL);
  } else {
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
      send_text(ci, F_ERROR, stream, "exec: pipe failed"); execs[e].used = 0; free(copy); return;
    }
    pid = fork();
  }
  if (pid < 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "exec: fork failed: %s", strerror(errno));
    send_text(ci, F_ERROR, stream, msg);
    execs[e].used = 0;
    close_fd(&in[0]); close_fd(&in[1]); close_fd(&out[0]); close_fd(&out[1]);
    close_fd(&err[0]); close_fd(&err[1]);
    free(copy);
    return;
  }
  if (pid == 0) {
    sigset_t none; sigemptyset(&none); sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (!tty) {
      setpgid(0, 0);
      dup2(in[0], 0); dup2(out[1], 1); dup2(err[1], 2);
    }
    if (container) {
      /* A guest container's exec: its namespaces, cgroup and rootfs, then its user below. */
      char why[512];
      if (pod_enter(container, why, sizeof why)) { dprintf(2, "exec: %s\n", why); _exit(126); }
    }
    if (user) {
      struct box_user who;
      char why[512];
      if (resolve_user(user, &who, why, sizeof why)) { dprintf(2, "exec: %s\n", why); _exit(126); }
      if (become_user(&who)) { dprintf(2, "exec: cannot become %s: %s\n", user, strerror(errno)); _exit(126); }
      if (!has_home) { snprintf(home_env, sizeof home_env, "HOME=%s", who.home); envp[envc++] = home_env; envp[envc] = NULL; }
    } else if (!has_home) {
      /* As `docker exec` does: HOME is the home of the user the command runs as. */
      struct box_user self;
      char why[512], uid[16];
      snprintf(uid, sizeof uid, "%u", (unsigned)getuid());
      if (resolve_user(uid, &self, why, sizeof why) == 0) {
        snprintf(home_env, sizeof home_env, "HOME=%s", self.home);
        envp[envc++] = home_env; envp[envc] = NULL;
      }
    }
    if (workdir && chdir(workdir)) { dprintf(2, "exec: chdir %s: %s\n", workdir, strerror(errno)); _exit(126); }
    execvpe(argv[0], argv, envp);
    dprintf(2, "exec: %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  free(copy);
  execs[e].pid = pid;
  if (tty) {
    fcntl(master, F_SETFD, FD_CLOEXEC);
    execs[e].out_fd = master; execs[e].in_fd = dup(master);
    fcntl(execs[e].in_fd, F_SETFD, FD_CLOEXEC);
    fcntl(execs[e].in_fd, F_SETFL, O_NONBLOCK);
  } else {
    close(in[0]); close(out[1]); close(err[1]);
    execs[e].in_fd = in[1]; execs[e].out_fd = out[0]; execs[e].err_fd = err[0];
    fcntl(in[1], F_SETFL, O_NONBLOCK);
  }
}

/* Writes a file inside the box: the control frame names it, data frames carry it, close ends it. */
static void start_put(int ci, uint32_t stream, const unsigned char *p, size_t len) {
  char path[4096];
  unsigned mode = 0644;
  const char *nul = memchr(p, 0, len);
  if (!nul || (size_t)(len - (nul + 1 - (const char *)p)) >= sizeof path) {
    send_text(ci, F_ERROR, stream, "put: bad request"); return;
  }
  sscanf((const char *)p, "%o", &mode);
  size_t plen = len - (size_t)(nul + 1 - (const char *)p);
  memcpy(path, nul + 1, plen); path[plen] = 0;
  int e = new_exec(ci, stream);
  if (e < 0) { send_text(ci, F_ERROR, stream, "put: too many running"); return; }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
  if (fd < 0) {
    char msg[4200];
    snprintf(msg, sizeof msg, "put: %s: %s", path, strerror(errno));
    send_text(ci, F_ERROR, stream, msg); execs[e].used = 0; return;
  }
  execs[e].put_fd = fd;
}

/* Reads a file out of the box as data frames, then an exit control frame. */
static void do_get(int ci, uint32_t stream, const unsigned char *p, size_t len) {
  char path[4096];
  if (len >= sizeof path) { send_text(ci, F_ERROR, stream, "get: path too long"); return; }
  memcpy(path, p, len); path[len] = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    char msg[4200];
    snprintf(msg, sizeof msg, "get: %s: %s", path, strerror(errno));
    send_text(ci, F_ERROR, stream, msg); return;
  }
  static unsigned char chunk[65536];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof chunk)) > 0) send_frame(ci, F_DATA, 1, stream, chunk, (size_t)n);
  close(fd);
  send_text(ci, F_CONTROL, stream, n < 0 ? "x1 0" : "x0 0");
}

static void handle_frame(int ci, int type, uint32_t stream, const unsigned char *p, size_t len) {
  int e = find_exec(ci, stream);
  switch (type) {
    case F_HEARTBEAT: send_frame(ci, F_HEARTBEAT, 0, stream, p, len); return;
    case F_DATA:
      if (e < 0) { pod_handle_data(ci, stream, p, len); return; }
      if (execs[e].put_fd >= 0) {
        if (write_all(execs[e].put_fd, p, len) < 0) {
          send_text(ci, F_ERROR, stream, "put: write failed");
          close_fd(&execs[e].put_fd); execs[e].used = 0;
        }
      } else {
        queue_stdin(e, p, len);
      }
      return;
    case F_CLOSE:
      if (e < 0) { pod_handle_close(ci, stream); return; }
      if (execs[e].put_fd >= 0) {
        int bad = fsync(execs[e].put_fd) && errno != EINVAL;
        close_fd(&execs[e].put_fd); execs[e].used = 0;
        send_text(ci, F_CONTROL, stream, bad ? "x1 0" : "x0 0");
      } else {
        execs[e].in_close = 1;
        flush_stdin(e);
      }
      return;
    case F_CONTROL:
      if (len == 0) return;
      if (p[0] == 'T' && len > 6 && !memcmp(p + len - 5, " main", 5)) {
        /* The VM's own main command's terminal; a pod member's is pod.c's. */
        char spec[32] = {0};
        unsigned rows = 0, cols = 0;
        memcpy(spec, p + 1, len - 6 < 31 ? len - 6 : 31);
        if (main_term < 0 || sscanf(spec, "%ux%u", &rows, &cols) != 2) {
          send_text(ci, F_ERROR, stream, "the main command has no terminal");
          return;
        }
        struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
        ioctl(main_term, TIOCSWINSZ, &ws);
        send_text(ci, F_CONTROL, stream, "x0 0");
        return;
      }
      if (e < 0 && pod_handle_control(ci, stream, p, len)) return;
      if (p[0] == 'X') { if (e >= 0) send_text(ci, F_ERROR, stream, "stream in use"); else start_exec(ci, stream, p + 1, len - 1); }
      else if (p[0] == 'P') start_put(ci, stream, p + 1, len - 1);
      else if (p[0] == 'G') do_get(ci, stream, p + 1, len - 1);
      else if (p[0] == 'K' && e >= 0 && execs[e].pid > 0) {
        char num[16] = {0};
        memcpy(num, p + 1, len - 1 < 15 ? len - 1 : 15);
        kill(-execs[e].pid, atoi(num)); kill(execs[e].pid, atoi(num));
      } else if (p[0] == 'W' && e >= 0 && execs[e].out_fd >= 0 && execs[e].err_fd < 0) {
        struct winsize ws = {0};
        unsigned rows = 0, cols = 0;
        char spec[32] = {0};
        memcpy(spec, p + 1, len - 1 < 31 ? len - 1 : 31);
        if (sscanf(spec, "%ux%u", &rows, &cols) == 2) {
          ws.ws_row = (unsigned short)rows; ws.ws_col = (unsigned short)cols;
          ioctl(execs[e].out_fd, TIOCSWINSZ, &ws);
        }
      }
      return;
    default: return;
  }
}

static void read_conn(int ci) {
  struct conn *c = &conns[ci];
  unsigned char tmp[65536];
  ssize_t n = read(c->fd, tmp, sizeof tmp);
  if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) { close_conn(ci); return; }
  if (n < 0) return;
  unsigned char *grown = realloc(c->buf, c->len + (size_t)n);
  if (!grown) { close_conn(ci); return; }
  c->buf = grown;
  memcpy(c->buf + c->len, tmp, (size_t)n);
  c->len += (size_t)n;
  size_t off = 0;
  while (c->len - off >= 10) {
    unsigned char *h = c->buf + off;
    uint32_t plen = get_u32(h + 6);
    if (h[0] < F_DATA || h[0] > F_CLOSE || plen > MAX_PAYLOAD) {
      send_text(ci, F_ERROR, 0, "bad frame"); close_conn(ci); return;
    }
    if (c->len - off < 10 + (size_t)plen) break;
    unsigned gen = c->gen;
    handle_frame(ci, h[0], get_u32(h + 2), h + 10, plen);
    if (c->gen != gen) return;
    off += 10 + plen;
  }
  memmove(c->buf, c->buf + off, c->len - off);
  c->len -= off;
}

static void pump_output(int e, int *fd, int flags) {
  unsigned char chunk[65536];
  ssize_t n = read(*fd, chunk, sizeof chunk);
  if (n > 0) { send_frame(execs[e].conn, F_DATA, flags, execs[e].stream, chunk, (size_t)n); return; }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  close_fd(fd);
  maybe_finish(e);
}

/* Sends what a pipe holds now and closes it, without waiting for its writers to close it. */
static void drain_and_close(int e, int *fd, int flags) {
  unsigned char chunk[65536];
  ssize_t n;
  fcntl(*fd, F_SETFL, O_NONBLOCK);
  while ((n = read(*fd, chunk, sizeof chunk)) > 0)
    send_frame(execs[e].conn, F_DATA, flags, execs[e].stream, chunk, (size_t)n);
  close_fd(fd);
}

/* Ends the execs whose process ended a grace period ago but whose pipes a background process
 * still holds; returns through `wait_ms` when the next such exec is due. */
static void end_lingering_execs(int *wait_ms) {
  long long now = now_ms();
  for (int e = 0; e < exec_slots; e++) {
    struct exec *x = &execs[e];
    if (!x->used || x->pid != 0 || (x->out_fd < 0 && x->err_fd < 0)) continue;
    long long left = x->reaped_at + EXEC_OUTPUT_GRACE_MS - now;
    if (left > 0) {
      if (*wait_ms < 0 || left < *wait_ms) *wait_ms = (int)left;
      continue;
    }
    if (x->out_fd >= 0) drain_and_close(e, &x->out_fd, 1);
    if (x->err_fd >= 0) drain_and_close(e, &x->err_fd, 2);
    maybe_finish(e);
  }
}

static void write_status(const char *reason) {
  if (!status_path) return;
  int code = 0, sig = 0;
  if (main_status >= 0 && WIFEXITED(main_status)) code = WEXITSTATUS(main_status);
  if (main_status >= 0 && WIFSIGNALED(main_status)) { sig = WTERMSIG(main_status); code = 128 + sig; }
  if (timed_out) { code = 137; sig = SIGKILL; }
  if (strncmp(status_path, "/dev/", 5) == 0) {
    /* In a VM the status goes out on its own virtio-serial port, to a file on the host. */
    int fd = open(status_path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) { dprintf(fd, "%d %d %s\n", code, sig, reason); fsync(fd); close(fd); }
    return;
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", status_path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fprintf(f, "%d %d %s\n", code, sig, reason);
  fclose(f);
  rename(tmp, status_path);
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid == main_pid) {
      main_status = status; main_pid = -1;
      if (main_term >= 0) pump_main_term();
    }
    if (pod_reaped(pid, status)) continue;
    for (int e = 0; e < exec_slots; e++) {
      if (execs[e].used && execs[e].pid == pid) {
        execs[e].pid = 0; execs[e].status = status; execs[e].reaped_at = now_ms();
        /* A pty's master reports EIO only after the last slave closes; stop waiting for it. */
        if (execs[e].err_fd < 0 && execs[e].out_fd >= 0) drain_and_close(e, &execs[e].out_fd, 1);
        maybe_finish(e);
      }
    }
  }
}

/* Doubles the connection table; returns -1 when memory is short (the table stays as it was). */
static int grow_conns(void) {
  int more = conn_slots ? conn_slots * 2 : FIRST_SLOTS;
  struct conn *grown = realloc(conns, (size_t)more * sizeof *grown);
  if (!grown) return -1;
  for (int i = conn_slots; i < more; i++) grown[i] = (struct conn){.fd = -1};
  conns = grown;
  conn_slots = more;
  return 0;
}

/* A free connection slot, growing the table when every slot is taken; -1 when it cannot. */
static int free_conn_slot(void) {
  for (int c = 0; c < conn_slots; c++) if (conns[c].fd < 0) return c;
  int first_new = conn_slots;
  return grow_conns() == 0 ? first_new : -1;
}

/* Takes the next client off the listen backlog. Where the agent cannot serve one more (memory
 * or descriptors short) it leaves the client waiting in the backlog and rests a little, rather
 * than accepting and dropping it, or spinning on a socket that stays readable. */
static void accept_client(int lfd) {
  int slot = free_conn_slot();
  int cfd = slot < 0 ? -1 : accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (cfd >= 0) { conns[slot].fd = cfd; conns[slot].len = 0; return; }
  if (slot >= 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)) return;
  accept_rest_until = now_ms() + 50;
}

static int listen_unix(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (fd < 0 || strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  unlink(path);
  /* The kernel's largest backlog: host clients connect without blocking, so a burst of execs
   * larger than the backlog while the agent waits for a CPU would fail to connect (EAGAIN). */
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, SOMAXCONN)) return -1;
  return fd;
}

static int load_module(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = (int)syscall(SYS_finit_module, fd, "", 0);
  close(fd);
  return rc == 0 || errno == EEXIST ? 0 : -1;
}

/* VM init: mount the pseudo filesystems and load the virtio modules listed in /a3s/modules. */
static void vm_init(void) {
  mkdir("/proc", 0755); mkdir("/sys", 0755); mkdir("/dev", 0755); mkdir("/tmp", 01777);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  /* Terminals (exec -t, a container's tty) need the pty filesystem devtmpfs leaves out. */
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", 0, "ptmxmode=0666,mode=0620");
  mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
  FILE *list = fopen("/a3s/modules", "r");
  char line[512];
  while (list && fgets(line, sizeof line, list)) {
    line[strcspn(line, "\n")] = 0;
    if (line[0] && load_module(line)) dprintf(2, "a3s-agent: insmod %s: %s\n", line, strerror(errno));
  }
  if (list) fclose(list);
  vm_mount_volumes();
  vm_configure_network();
  vm_set_hostname();
  /* The console is the box's log: what programs write goes there byte for byte, without the
   * tty layer turning each newline into CR LF (a terminal's own CR LF stays, as on Docker). */
  struct termios console;
  if (tcgetattr(1, &console) == 0) {
    console.c_oflag &= ~(tcflag_t)OPOST;
    tcsetattr(1, TCSANOW, &console);
  }
}

/* Reads a NUL-separated list (the VM's command or environment) from the initramfs. */
static char **read_list(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *data = malloc(65536); /* kept for the agent's life: putenv and argv point into it */
  ssize_t n = data ? read(fd, data, 65535) : -1;
  close(fd);
  if (n <= 0) { free(data); return NULL; }
  data[n] = 0;
  int count = 0;
  for (ssize_t i = 0; i < n; i++) if (data[i] == 0) count++;
  if (data[n - 1] != 0) count++;
  char **list = calloc((size_t)count + 1, sizeof *list);
  if (!list) return NULL;
  int k = 0;
  for (ssize_t i = 0; i < n && k < count; i += (ssize_t)strlen(data + i) + 1) list[k++] = data + i;
  return list;
}

/* Opens a device that may still be appearing (virtio-mmio ports come up after the host
 * answers), waiting up to 5 s. */
static int open_port_as(const char *path, int flags) {
  for (int i = 0; i < 500; i++) {
    int fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) return fd;
    usleep(10000);
  }
  return -1;
}

static int open_port(const char *path) { return open_port_as(path, O_RDWR); }

/* An output line to the host, opened for writing; a terminal (a UART) passes bytes as they
 * are, as the console does. -1 with a message on the console when it cannot be opened. */
static int open_output(const char *path) {
  int fd = open_port_as(path, O_WRONLY);
  if (fd < 0) { dprintf(2, "a3s-agent: cannot open %s: %s\n", path, strerror(errno)); return -1; }
  struct termios raw;
  if (tcgetattr(fd, &raw) == 0) {
    raw.c_oflag &= ~(tcflag_t)OPOST;
    tcsetattr(fd, TCSANOW, &raw);
  }
  return fd;
}

/* The VM's output lines from the initramfs: the main command's stdout and stderr, and a pod
 * VM's log port for its members (pod.c). */
static void open_vm_outputs(void) {
  char **output = read_list("/a3s/output");
  if (output && output[0] && output[1]) {
    main_log_out = open_output(output[0]);
    main_log_err = open_output(output[1]);
  }
  char **pod_logs = read_list("/a3s/podlogs");
  if (pod_logs && pod_logs[0]) pod_set_log_port(open_output(pod_logs[0]));
}

/* Waits until a terminal line has sent what it holds: the VM powers off right after. */
static void drain_vm_outputs(void) {
  if (main_log_out >= 0) tcdrain(main_log_out);
  if (main_log_err >= 0) tcdrain(main_log_err);
}

extern char **environ;

/*
 * Starts the main command with posix_spawn: the C library clones the agent sharing its memory
 * and waits only until the command has exec'd, so the command runs at once instead of after the
 * agent's own setup (a forked child queued behind it on a busy host: 0.5-0.7 ms of a box's start
 * before its command's exec). It gets what the fork path gives it: its own process group, the
 * agent's blocked signals unblocked, SIGPIPE's default, and the attach pipes as stdout and stderr
 * (`out` and `err`, when not -1). Returns the pid, or -1 when it could not be spawned.
 */
static pid_t spawn_main(char **main_argv, int out, int err, const sigset_t *mask) {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  if (posix_spawnattr_init(&attr)) return -1;
  if (posix_spawn_file_actions_init(&actions)) {
    posix_spawnattr_destroy(&attr);
    return -1;
  }
  sigset_t child_mask, defaults;
  sigprocmask(SIG_SETMASK, NULL, &child_mask);
  for (int sig = 1; sig < NSIG; sig++)
    if (sigismember(mask, sig) == 1) sigdelset(&child_mask, sig);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  int rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (!rc) rc = posix_spawnattr_setpgroup(&attr, 0);
  if (!rc) rc = posix_spawnattr_setsigmask(&attr, &child_mask);
  if (!rc) rc = posix_spawnattr_setsigdefault(&attr, &defaults);
  if (!rc && out >= 0) rc = posix_spawn_file_actions_adddup2(&actions, out, 1);
  if (!rc && err >= 0) rc = posix_spawn_file_actions_adddup2(&actions, err, 2);
  pid_t pid = -1;
  if (!rc && posix_spawnp(&pid, main_argv[0], &actions, &attr, main_argv, environ)) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return pid;
}

/* Forks the box's main command (on a terminal when `tty`), as `user` when set. Returns 0, or -1
 * when it cannot fork. */
static int start_main(char **main_argv, int tty, const char *main_user, const sigset_t *mask) {
  if (tty) {
    /* A terminal's usual size until the host sets its own (programs take 0x0 for none). */
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    main_pid = forkpty(&main_term, NULL, NULL, &ws);
    if (main_pid > 0) {
      fcntl(main_term, F_SETFD, FD_CLOEXEC);
      fcntl(main_term, F_SETFL, O_NONBLOCK);
    }
  } else {
    /* Attached: the command's stdout and stderr are pipes the agent tees (see attach_out). */
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    if (attach_out >= 0 && (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))) {
      dprintf(2, "a3s-agent: pipe: %s\n", strerror(errno));
      return -1;
    }
    /* Attached, the pipes; in a VM with output lines, those (see main_log_out). */
    int to_out = out[1] >= 0 ? out[1] : main_log_out;
    int to_err = err[1] >= 0 ? err[1] : main_log_err;
    /* Without a user to become, the command is spawned without copying the agent (see
     * spawn_main); a command that cannot be spawned takes the fork below, which reports why. */
    main_pid = main_user ? -1 : spawn_main(main_argv, to_out, to_err, mask);
    if (main_pid < 0) main_pid = fork();
    if (main_pid == 0 && ((to_out >= 0 && dup2(to_out, 1) < 0) || (to_err >= 0 && dup2(to_err, 2) < 0))) _exit(126);
    if (out[0] >= 0) {
      close(out[1]); close(err[1]);
      main_out = out[0]; main_err = err[0];
    }
  }
  if (main_pid == 0) {
    sigprocmask(SIG_UNBLOCK, mask, NULL);
    if (!tty) setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    if (main_user) {
      struct box_user who;
      char why[512];
      if (resolve_user(main_user, &who, why, sizeof why)) { dprintf(2, "a3s-agent: %s\n", why); _exit(126); }
      if (become_user(&who)) { dprintf(2, "a3s-agent: cannot become %s: %s\n", main_user, strerror(errno)); _exit(126); }
      if (!getenv("HOME")) setenv("HOME", who.home, 1);
    }
    trace("main: exec");
    execvp(main_argv[0], main_argv);
    dprintf(2, "a3s-agent: %s: %s\n", main_argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  if (main_pid < 0) { dprintf(2, "a3s-agent: fork: %s\n", strerror(errno)); return -1; }
  trace("agent: main forked");
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "launch")) return launch_main(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "keep-logs")) return keep_logs_main(argc, argv);
  /* Descriptors the launcher and bubblewrap passed down (the user namespace, pipes) must not
   * reach the box's commands; the agent uses the ready pipe itself, before any fork. */
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  const char *socket_path = NULL, *port_path = NULL, *main_user = NULL;
  int timeout = 0, vm = 0, ready_fd = -1, cmd = argc;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--socket") && i + 1 < argc) socket_path = argv[++i];
    else if (!strcmp(argv[i], "--port") && i + 1 < argc) port_path = argv[++i];
    else if (!strcmp(argv[i], "--status") && i + 1 < argc) status_path = argv[++i];
    else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--user") && i + 1 < argc) main_user = argv[++i];
    else if (!strcmp(argv[i], "--ready-fd") && i + 1 < argc) ready_fd = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--trace-fd") && i + 1 < argc) trace_fd = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--attach-out") && i + 1 < argc) attach_out = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--attach-err") && i + 1 < argc) attach_err = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--vm")) vm = 1;
    else if (!strcmp(argv[i], "--")) { cmd = i + 1; break; }
    else { dprintf(2, "a3s-agent: unknown argument %s\n", argv[i]); return 2; }
  }
  trace("agent: started");
  if ((attach_out >= 0) != (attach_err >= 0)) { dprintf(2, "a3s-agent: --attach-out and --attach-err go together\n"); return 2; }
  /* A VM's init is pid 1 with no socket; a namespace box's agent is pid 1 of its pid namespace
   * too (bubblewrap's --as-pid-1), serving a socket. */
  if (getpid() == 1 && !socket_path) vm = 1;
  /* The signals the loop takes from its signalfd are blocked before anything can send one: a
   * main command that ended before they were blocked would leave a SIGCHLD nobody reads. */
  sigset_t mask;
  sigemptyset(&mask); sigaddset(&mask, SIGCHLD); sigaddset(&mask, SIGALRM);
  sigaddset(&mask, SIGTERM); sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  /* A namespace box's command is the first thing the agent does: everything else here (the
   * attach pipes' modes, the tables, the signalfd, the socket) overlaps its exec and its first
   * write instead of coming before them. It inherits none of it, as every descriptor the agent
   * holds is close-on-exec. A VM's command waits for the VM's ports, as it always has. */
  if (!vm && cmd < argc && start_main(argv + cmd, 0, main_user, &mask)) return 1;
  if (attach_out >= 0) {
    /* Never blocks on a caller; a larger pipe lets a caller that reads in bursts keep up with a
     * command that writes in bursts (the size is a ceiling, not an allocation). */
    fcntl(attach_out, F_SETFL, O_NONBLOCK);
    fcntl(attach_err, F_SETFL, O_NONBLOCK);
    fcntl(attach_out, F_SETPIPE_SZ, 1 << 20);
    fcntl(attach_err, F_SETPIPE_SZ, 1 << 20);
  }
  char **vm_cmd = NULL;
  if (vm) {
    vm_init();
    if (!port_path) port_path = "/dev/vport0p1";
    /* The status port may still be appearing (virtio-mmio ports come up after the host answers);
     * write_status opens it only at the end. */
    if (!status_path) status_path = "/dev/vport0p2";
    char **env = read_list("/a3s/env");
    for (int i = 0; env && env[i]; i++) putenv(env[i]);
    char **limit = read_list("/a3s/timeout");
    if (limit && limit[0]) timeout = atoi(limit[0]);
    if (cmd >= argc) vm_cmd = read_list("/a3s/cmd");
    char **user = main_user ? NULL : read_list("/a3s/user");
    if (user && user[0]) main_user = user[0];
  }
  if (grow_conns() || grow_execs()) { dprintf(2, "a3s-agent: out of memory\n"); return 1; }
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  int lfd = -1;
  if (socket_path && (lfd = listen_unix(socket_path)) < 0) {
    dprintf(2, "a3s-agent: cannot listen on %s: %s\n", socket_path, strerror(errno)); return 1;
  }
  if (port_path) {
    snprintf(port_paths[nports++], sizeof port_paths[0], "%s", port_path);
    /* /a3s/ports: how many more agent ports the VM has; they follow the status port (nr 3...). */
    char **extra = vm ? read_list("/a3s/ports") : NULL;
    int more = extra && extra[0] ? atoi(extra[0]) : 0;
    for (int k = 0; k < more && nports < MAX_PORTS; k++)
      snprintf(port_paths[nports++], sizeof port_paths[0], "/dev/vport0p%d", 3 + k);
    for (int k = 0; k < nports; k++) {
      int fd = open_port(port_paths[k]);
      if (fd < 0) { dprintf(2, "a3s-agent: cannot open %s: %s\n", port_paths[k], strerror(errno)); return 1; }
      conns[k].fd = fd;
    }
    dprintf(2, "a3s-agent: ready\n");
  }
  if (vm) open_vm_outputs();
  trace("agent: listening");
  if (ready_fd >= 0 && ready_fd == attach_out && main_out >= 0) {
    /* Attached, the ready pipe goes on as the caller's stdout, the ready byte first: with the
     * command's first output when that comes soon (see ready_pending). */
    ready_pending = ready_fd;
    ready_due = now_ms() + READY_MERGE_MS;
  } else if (ready_fd >= 0) {
    /* The host waits on this pipe. A VM's main command forks after it is closed; a namespace
     * box's forked before, and drops it on exec (close-on-exec), so only the agent holds it. */
    ssize_t ignored = write(ready_fd, "r", 1);
    (void)ignored;
    if (ready_fd != attach_out) close(ready_fd);
  }
  char **main_argv = cmd < argc ? argv + cmd : vm_cmd;
  int main_tty = vm && read_list("/a3s/tty") != NULL;
  if (vm && main_argv && main_argv[0] && start_main(main_argv, main_tty, main_user, &mask)) return 1;
  if (timeout > 0) alarm((unsigned)timeout);
  const char *reason = "exited";
  struct pollfd *fds = NULL;
  int *owner = NULL, *kind = NULL, poll_slots = 0;
  for (;;) {
    /* Sized for the tables as they are now; they only grow, so neither does this shrink. */
    int max_poll = 5 + conn_slots + 3 * exec_slots + POD_POLL_MAX;
    if (max_poll > poll_slots) {
      struct pollfd *more_fds = realloc(fds, (size_t)max_poll * sizeof *fds);
      if (more_fds) fds = more_fds;
      int *more_owner = realloc(owner, (size_t)max_poll * sizeof *owner);
      if (more_owner) owner = more_owner;
      int *more_kind = realloc(kind, (size_t)max_poll * sizeof *kind);
      if (more_kind) kind = more_kind;
      if (!more_fds || !more_owner || !more_kind) { dprintf(2, "a3s-agent: out of memory\n"); break; }
      poll_slots = max_poll;
    }
    int n = 0, wait_ms = -1;
    if (ready_pending >= 0) {
      long long left = ready_due - now_ms();
      if (left <= 0) send_ready();
      else wait_ms = (int)left;
    }
    fds[n] = (struct pollfd){sfd, POLLIN, 0}; kind[n] = 0; owner[n++] = 0;
    long long accept_rest = accept_rest_until - now_ms();
    if (lfd >= 0 && accept_rest <= 0) { fds[n] = (struct pollfd){lfd, POLLIN, 0}; kind[n] = 1; owner[n++] = 0; }
    else if (lfd >= 0 && (wait_ms < 0 || accept_rest < wait_ms)) wait_ms = (int)accept_rest;
    for (int i = 0; i < conn_slots; i++)
      if (conns[i].fd >= 0 && (i >= nports || port_polled(i, &wait_ms))) { fds[n] = (struct pollfd){conns[i].fd, POLLIN, 0}; kind[n] = 2; owner[n++] = i; }
    end_lingering_execs(&wait_ms);
    for (int e = 0; e < exec_slots; e++) {
      if (!execs[e].used) continue;
      if (execs[e].out_fd >= 0) { fds[n] = (struct pollfd){execs[e].out_fd, POLLIN, 0}; kind[n] = 3; owner[n++] = e; }
      if (execs[e].err_fd >= 0) { fds[n] = (struct pollfd){execs[e].err_fd, POLLIN, 0}; kind[n] = 4; owner[n++] = e; }
      if (execs[e].in_fd >= 0 && execs[e].in_len > 0) { fds[n] = (struct pollfd){execs[e].in_fd, POLLOUT, 0}; kind[n] = 5; owner[n++] = e; }
    }
    if (main_term >= 0) { fds[n] = (struct pollfd){main_term, POLLIN, 0}; kind[n] = 7; owner[n++] = 0; }
    if (main_out >= 0) { fds[n] = (struct pollfd){main_out, POLLIN, 0}; kind[n] = 8; owner[n++] = 1; }
    if (main_err >= 0) { fds[n] = (struct pollfd){main_err, POLLIN, 0}; kind[n] = 8; owner[n++] = 2; }
    int pod_fds = pod_poll_fds(fds + n, owner + n, max_poll - n);
    for (int i = 0; i < pod_fds; i++) kind[n + i] = 6;
    n += pod_fds;
    if (poll(fds, (nfds_t)n, wait_ms) < 0) { if (errno == EINTR) continue; break; }
    for (int i = 0; i < n; i++) {
      if (!fds[i].revents) continue;
      if (kind[i] == 0) {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {
          if (si.ssi_signo == SIGALRM) {
            timed_out = 1; reason = "timeout";
            kill_all();
          } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            reason = "stopped";
            if (main_pid > 0) kill(main_pid, SIGTERM);
            else if (!main_argv) { kill_all(); write_status(reason); if (vm) { sync(); reboot(RB_POWER_OFF); } return 0; }
          }
        }
        reap();
      } else if (kind[i] == 1) {
        accept_client(lfd);
      } else if (kind[i] == 2) {
        if (conns[owner[i]].fd == fds[i].fd) read_conn(owner[i]);
      } else if (kind[i] == 3) {
        if (execs[owner[i]].used && execs[owner[i]].out_fd == fds[i].fd) pump_output(owner[i], &execs[owner[i]].out_fd, 1);
      } else if (kind[i] == 4) {
        if (execs[owner[i]].used && execs[owner[i]].err_fd == fds[i].fd) pump_output(owner[i], &execs[owner[i]].err_fd, 2);
      } else if (kind[i] == 5) {
        if (execs[owner[i]].used && execs[owner[i]].in_fd == fds[i].fd) flush_stdin(owner[i]);
      } else if (kind[i] == 6) {
        pod_ready(owner[i], &fds[i]);
      } else if (kind[i] == 7) {
        if (main_term == fds[i].fd) pump_main_term();
      } else if (kind[i] == 8) {
        int *pipe_fd = owner[i] == 1 ? &main_out : &main_err;
        if (*pipe_fd == fds[i].fd) tee_main_output(pipe_fd, owner[i], 0);
      }
    }
    if (main_pid == -1) {
      /* The box's main process ended: nothing else in the box may outlive it. */
      kill_all();
      /* The logs are complete before the status says the box ended. */
      drain_main_output();
      /* A silent command that ended: the caller still gets the ready byte, before the status. */
      send_ready();
      drain_vm_outputs();
      write_status(reason);
      if (socket_path) unlink(socket_path);
      int code = timed_out ? 137 : WIFEXITED(main_status) ? WEXITSTATUS(main_status) : 128 + WTERMSIG(main_status);
      if (vm) { sync(); reboot(RB_POWER_OFF); }
      return code;
    }
  }
  return 1;
}
