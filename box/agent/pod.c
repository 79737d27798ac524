/*
 * Guest containers: the containers of a pod that share one VM. The pod's VM boots once with the
 * pod's shared directory mounted over virtio-9p; the host prepares each container's rootfs (an
 * overlay of its image) inside that directory, and the agent runs the container's main process
 * there in a mount and pid namespace of its own, chrooted into that rootfs, in a cgroup of its
 * own (memory, pids and cpu limits). The network, hostname and kernel are the VM's, shared by
 * every container of the pod, as Kubernetes expects of a pod.
 *
 * Output goes to the host on the pod log port, whether or not a host client is connected: the
 * agent reads each container's stdout and stderr pipes (or its terminal) and sends what comes as
 * records naming the container and the stream (agent.h); the log keeper in front of the VM on
 * the host writes them to the container's own logs, rotated at its bound (pod_log_keeper.c). When
 * the main process ends the agent sends the rest of its output and an end record, then writes the
 * exit status to the shared directory.
 *
 * Messages (control frames; see box/agent/README.md):
 *   C<records>        start: i<id> r<rootfs> a<arg> e<K=V> w<dir> u<user> t(tty) I(stdin)
 *                     R(read-only rootfs) m<memory bytes> p<pids> c<cpu quota µs per 100 ms>
 *                     s<status file>; answered `c<pid>`.
 *                     Data frames on that stream feed the main process's stdin; close ends it.
 *   S<signal> <id>    signals the container's main process; answered `x0 0`.
 *   T<rows>x<cols> <id>  resizes a terminal container's terminal; answered `x0 0`.
 *   D<id>             forgets an exited container and removes its cgroup; answered `x0 0`.
 */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

enum { MAX_CONTAINERS = 64, MAX_ARGS = 512, CHILD_STACK = 256 * 1024 };

#define CGROUP_ROOT "/sys/fs/cgroup"

struct container {
  int used;
  char id[65];
  pid_t pid;          /* the main process, in the VM's pid namespace; 0 once reaped */
  int conn;           /* the connection that started it (stdin), or -1 */
  uint32_t stream;
  int in_fd;          /* stdin pipe or terminal master, -1 when closed */
  int term_fd;        /* the terminal master whose output the agent sends as stdout, or -1 */
  int out_fd, err_fd; /* the stdout and stderr pipes' read ends, -1 once they ended */
  unsigned char *in_buf;
  size_t in_len;
  int in_close;
  char status_path[4096];
};

static struct container containers[MAX_CONTAINERS];
/* The pod log port (virtio-serial, to the host's log keeper); -1: output is dropped. */
static int log_port = -1;

void pod_set_log_port(int fd) { log_port = fd; }

/* Sends one record on the log port. The write blocks until QEMU has taken the bytes (a
 * virtio-serial write waits for the host), so the order of records is the order of sends. */
static void send_record(const char *id, int kind, int stream, const unsigned char *data, size_t len) {
  if (log_port < 0) return;
  size_t id_len = strlen(id);
  unsigned char head[POD_LOG_HEAD];
  head[0] = (unsigned char)kind; head[1] = (unsigned char)stream; head[2] = (unsigned char)id_len;
  head[3] = (unsigned char)(len >> 24); head[4] = (unsigned char)(len >> 16);
  head[5] = (unsigned char)(len >> 8); head[6] = (unsigned char)len;
  struct iovec parts[3] = {{head, sizeof head}, {(void *)id, id_len}, {(void *)data, len}};
  int count = 3, first = 0;
  while (first < count) {
    ssize_t n = writev(log_port, parts + first, count - first);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      /* The port broke, maybe mid-record: nothing more goes on it, so the host never reads
       * a record framed from the middle of another. */
      close(log_port);
      log_port = -1;
      return;
    }
    while (first < count && (size_t)n >= parts[first].iov_len) n -= (ssize_t)parts[first++].iov_len;
    if (first < count) {
      parts[first].iov_base = (char *)parts[first].iov_base + n;
      parts[first].iov_len -= (size_t)n;
    }
  }
}

/* One read of a container's output (a pipe, or its terminal as stdout), sent as a record.
 * Returns 1 while the descriptor may have more, 0 once it ended (it is then closed) or, with
 * `drain`, has nothing now. */
static int forward_output(struct container *c, int *fd, int stream, int drain) {
  unsigned char chunk[POD_LOG_MAX_DATA];
  ssize_t n = read(*fd, chunk, sizeof chunk);
  if (n < 0 && errno == EINTR) return 1;
  if (n < 0 && errno == EAGAIN) return drain ? 0 : 1;
  if (n <= 0) {
    /* A terminal reports EIO once its last user closed it: its end, as a pipe's EOF. */
    close(*fd);
    *fd = -1;
    return 0;
  }
  send_record(c->id, POD_LOG_DATA, stream, chunk, (size_t)n);
  return 1;
}

/* What the cloned main process needs; it gets a copy of the agent's memory. */
struct start_args {
  char *argv[MAX_ARGS + 1];
  char *envp[MAX_ARGS + 4];
  int envc, has_home;
  const char *id, *rootfs, *workdir, *user;
  int tty, read_only, stdin_fd, stdout_fd, stderr_fd;
  int term_sock;      /* a terminal container sends its terminal's master back on this */
};

static struct container *find(const char *id) {
  for (int i = 0; i < MAX_CONTAINERS; i++)
    if (containers[i].used && !strcmp(containers[i].id, id)) return &containers[i];
  return NULL;
}

static struct container *by_stream(int ci, uint32_t stream) {
  for (int i = 0; i < MAX_CONTAINERS; i++)
    if (containers[i].used && containers[i].conn == ci && containers[i].stream == stream)
      return &containers[i];
  return NULL;
}

static int write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int saved = errno;
  close(fd);
  errno = saved;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The VM's cgroup v2 hierarchy with the controllers a container's limits need, once. */
static int cgroups_ready(void) {
  static int ready = 0;
  if (ready) return 0;
  mkdir(CGROUP_ROOT, 0755);
  if (mount("cgroup2", CGROUP_ROOT, "cgroup2", 0, NULL) && errno != EBUSY) return -1;
  if (write_text(CGROUP_ROOT "/cgroup.subtree_control", "+memory +pids +cpu")) return -1;
  ready = 1;
  return 0;
}

static void cgroup_path(char *out, size_t len, const char *id, const char *file) {
  snprintf(out, len, CGROUP_ROOT "/a3s-%s%s%s", id, file ? "/" : "", file ? file : "");
}

static int set_limit(const char *id, const char *file, const char *value) {
  char path[512];
  cgroup_path(path, sizeof path, id, file);
  return write_text(path, value);
}

static void mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(buf, 0755);
    *p = '/';
  }
  mkdir(buf, 0755);
}

static void fail_child(const char *what, const char *detail) {
  dprintf(2, "a3s-agent: container: %s %s: %s\n", what, detail ? detail : "", strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}

/* Mounts a fresh filesystem (or binds a VM path) at `rel` inside the container's rootfs. */
static void mount_inside(const char *rootfs, const char *rel, const char *source, const char *type,
                         unsigned long flags, const char *data) {
  char target[4096];
  snprintf(target, sizeof target, "%s%s", rootfs, rel);
  mkdirs(target);
  if (mount(source, target, type, flags, data)) fail_child("mount", target);
}

/* A /dev of its own, as container runtimes give one: the usual character devices, a private
 * devpts and /dev/shm, and none of the VM's other devices (the agent's own port among them). */
static void make_dev(const char *rootfs) {
  mount_inside(rootfs, "/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC, NULL);
  static const struct { const char *name; unsigned major, minor; } nodes[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9},
    {"tty", 5, 0},
  };
  char path[4200];
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
    snprintf(path, sizeof path, "%s/dev/%s", rootfs, nodes[i].name);
    if (mknod(path, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor))) fail_child("mknod", path);
  }
  mount_inside(rootfs, "/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  mount_inside(rootfs, "/dev/shm", "shm", "tmpfs", MS_NOSUID | MS_NODEV, NULL);
  const char *links[][2] = {{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                            {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    snprintf(path, sizeof path, "%s/dev/%s", rootfs, links[i][1]);
    if (symlink(links[i][0], path)) fail_child("symlink", path);
  }
}

/* Sends `fd` over the unix socket `sock`. */
static int send_fd(int sock, int fd) {
  char byte = 't';
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* Receives a descriptor sent by send_fd, waiting at most `ms`; -1 when none came. */
static int receive_fd(int sock, int ms) {
  struct pollfd p = {sock, POLLIN, 0};
  if (poll(&p, 1, ms) != 1) return -1;
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
  return fd;
}

/* The container's terminal comes from its own devpts, so `tty` names a device the container
 * sees; the agent gets the master end to copy output from and feed input to. */
static void open_terminal(int sock) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  char name[128];
  if (master < 0 || unlockpt(master) || ptsname_r(master, name, sizeof name)) fail_child("terminal", NULL);
  int slave = open(name, O_RDWR);
  if (slave < 0) fail_child("terminal", name);
  if (ioctl(slave, TIOCSCTTY, 0)) fail_child("controlling terminal", name);
  /* A terminal's usual size until a client sets its own (programs take 0x0 for no terminal). */
  struct winsize ws = {.ws_row = 24, .ws_col = 80};
  ioctl(slave, TIOCSWINSZ, &ws);
  if (send_fd(sock, master)) fail_child("terminal handover", NULL);
  close(master);
  close(sock);
  dup2(slave, 0);
  dup2(slave, 1);
  dup2(slave, 2);
  if (slave > 2) close(slave);
}

static pid_t init_command = 0;
/* kill() is safe in a handler: each signal goes on the moment it comes. */
static void forward_signal(int sig) { kill(init_command, sig); }

/* Pid 1 of a container: forwards the signals a stop or kill sends to the command, reaps every
 * process that ends up with it, and exits as the command did once it is gone. */
static void container_init(pid_t command) {
  /* Nothing of the agent's (its ports, the start pipes) stays open in here. */
  syscall(SYS_close_range, 3, ~0U, 0);
  prctl(PR_SET_NAME, "init", 0, 0, 0);
  static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  init_command = command;
  struct sigaction action = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};
  sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaction(forwarded[i], &action, NULL);
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) _exit(127);
    if (pid != command) continue;
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
}

/* The container's main process, pid 1 of its own pid namespace. */
static int container_main(void *arg) {
  struct start_args *a = arg;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  setsid();
  dup2(a->stdin_fd, 0);
  dup2(a->stdout_fd, 1);
  dup2(a->stderr_fd, 2);
  /* Into the container's cgroup before anything runs: "0" is the writer itself, whatever its
   * pid in this namespace. */
  char procs[512];
  cgroup_path(procs, sizeof procs, a->id, "cgroup.procs");
  if (write_text(procs, "0")) fail_child("join cgroup", a->id);
  /* Mounts made here stay in this container's mount namespace. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) fail_child("make mounts private", NULL);
  char rootfs[4096];
  snprintf(rootfs, sizeof rootfs, "%s", a->rootfs);
  if (a->read_only) {
    /* Mount points are made before the rootfs turns read-only. */
    const char *points[] = {"/proc", "/dev", "/sys", "/tmp"};
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
      char path[4200];
      snprintf(path, sizeof path, "%s%s", rootfs, points[i]);
      mkdirs(path);
    }
    if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) ||
        mount(NULL, rootfs, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL))
      fail_child("read-only rootfs", rootfs);
    /* As Docker's --read-only: the rootfs is read-only, /tmp stays writable. */
    mount_inside(rootfs, "/tmp", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, NULL);
  }
  mount_inside(rootfs, "/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  make_dev(rootfs);
  mount_inside(rootfs, "/sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
  if (chdir(rootfs) || chroot(".") || chdir("/")) fail_child("chroot", rootfs);
  if (a->tty) open_terminal(a->term_sock);
  static char home_env[600];
  if (a->user) {
    struct box_user who;
    char why[512];
    if (resolve_user(a->user, &who, why, sizeof why)) { dprintf(2, "a3s-agent: %s\n", why); _exit(126); }
    if (become_user(&who)) fail_child("become", a->user);
    if (!a->has_home) { snprintf(home_env, sizeof home_env, "HOME=%s", who.home); a->envp[a->envc++] = home_env; }
  } else if (!a->has_home) {
    a->envp[a->envc++] = "HOME=/root";
  }
  a->envp[a->envc] = NULL;
  if (a->workdir && chdir(a->workdir)) fail_child("chdir", a->workdir);
  /* The command runs under a small init, as under bubblewrap on the namespace driver: pid 1 of a
   * namespace ignores every signal it has no handler for, so `stop` would otherwise wait out its
   * whole grace period on most programs. The init passes signals on and reaps orphans. */
  pid_t command = fork();
  if (command < 0) fail_child("fork", NULL);
  if (command == 0) {
    execvpe(a->argv[0], a->argv, a->envp);
    fail_child("exec", a->argv[0]);
  }
  container_init(command);
  return 127;
}

static void answer_error(int ci, uint32_t stream, const char *what, const char *detail) {
  char msg[4400];
  snprintf(msg, sizeof msg, "container: %s %s: %s", what, detail ? detail : "", strerror(errno));
  agent_send_text(ci, AGENT_F_ERROR, stream, msg);
}

static void close_fd(int *fd) { if (*fd >= 0) { close(*fd); *fd = -1; } }

/* A container's main process has exited and its output is drained: say how it ended. */
static void write_status(struct container *c, int status) {
  int code = 0, sig = 0;
  if (WIFEXITED(status)) code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) { sig = WTERMSIG(status); code = 128 + sig; }
  /* The kernel's OOM killer leaves its count in the cgroup: the reason the kubelet reports. */
  const char *reason = "exited";
  char events_path[512], events[1024];
  cgroup_path(events_path, sizeof events_path, c->id, "memory.events");
  int fd = open(events_path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, events, sizeof events - 1);
    close(fd);
    if (n > 0) {
      events[n] = 0;
      char *line = strstr(events, "oom_kill ");
      if (line && atoi(line + 9) > 0) reason = "oom";
    }
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", c->status_path);
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return;
  dprintf(out, "%d %d %s\n", code, sig, reason);
  fsync(out);
  close(out);
  rename(tmp, c->status_path);
}

/* A container that never came up: what it said about why (a terminal's set-up writes to the
 * stdout pipe until the terminal exists) goes to its log, then its end. Waits a moment for the
 * killed child to close the pipe. */
static void forward_failure(struct container *c, int *out) {
  for (int waited = 0; *out >= 0 && waited < 1000; waited += 10) {
    struct pollfd p = {*out, POLLIN, 0};
    if (poll(&p, 1, 10) > 0) while (*out >= 0 && forward_output(c, out, 1, 1)) {}
  }
  close_fd(out);
  send_record(c->id, POD_LOG_END, 1, NULL, 0);
}

static void start_container(int ci, uint32_t stream, const unsigned char *p, size_t len) {
  static struct start_args a;
  memset(&a, 0, sizeof a);
  static char copy[MAX_PAYLOAD_COPY];
  if (len >= sizeof copy) { errno = E2BIG; answer_error(ci, stream, "request", NULL); return; }
  memcpy(copy, p, len);
  copy[len] = 0;
  int argc = 0, interactive = 0, has_path = 0;
  const char *status_path = NULL;
  const char *memory = NULL, *pids = NULL, *cpu = NULL;
  for (size_t off = 0; off < len; off += strlen(copy + off) + 1) {
    char *f = copy + off;
    switch (f[0]) {
      case 'i': a.id = f + 1; break;
      case 'r': a.rootfs = f + 1; break;
      case 'a': if (argc < MAX_ARGS) a.argv[argc++] = f + 1; break;
      case 'e':
        if (a.envc < MAX_ARGS) a.envp[a.envc++] = f + 1;
        if (!strncmp(f + 1, "PATH=", 5)) has_path = 1;
        if (!strncmp(f + 1, "HOME=", 5)) a.has_home = 1;
        break;
      case 'w': a.workdir = f + 1; break;
      case 'u': a.user = f + 1; break;
      case 't': a.tty = 1; break;
      case 'I': interactive = 1; break;
      case 'R': a.read_only = 1; break;
      case 'm': memory = f + 1; break;
      case 'p': pids = f + 1; break;
      case 'c': cpu = f + 1; break;
      case 's': status_path = f + 1; break;
    }
  }
  if (!has_path) a.envp[a.envc++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  a.argv[argc] = NULL;
  if (!a.id || !a.rootfs || !status_path || argc == 0 ||
      strlen(a.id) > POD_LOG_MAX_ID || strlen(status_path) >= sizeof containers[0].status_path) {
    agent_send_text(ci, AGENT_F_ERROR, stream, "container: incomplete start request");
    return;
  }
  struct container *c = find(a.id);
  if (c && c->pid > 0) { agent_send_text(ci, AGENT_F_ERROR, stream, "container: already running"); return; }
  if (!c) {
    for (int i = 0; i < MAX_CONTAINERS && !c; i++) if (!containers[i].used) c = &containers[i];
    if (!c) { agent_send_text(ci, AGENT_F_ERROR, stream, "container: too many in this pod"); return; }
  }
  memset(c, 0, sizeof *c);
  c->in_fd = c->term_fd = c->out_fd = c->err_fd = -1;
  c->conn = -1;
  snprintf(c->id, sizeof c->id, "%s", a.id);
  if (cgroups_ready()) { answer_error(ci, stream, "cgroups", NULL); return; }
  char group[512];
  cgroup_path(group, sizeof group, a.id, NULL);
  if (mkdir(group, 0755) && errno != EEXIST) { answer_error(ci, stream, "cgroup", group); return; }
  char cpu_max[64];
  if (cpu) snprintf(cpu_max, sizeof cpu_max, "%s 100000", cpu);
  if ((memory && set_limit(a.id, "memory.max", memory)) ||
      (memory && set_limit(a.id, "memory.swap.max", "0") && errno != ENOENT) ||
      (pids && set_limit(a.id, "pids.max", pids)) || (cpu && set_limit(a.id, "cpu.max", cpu_max))) {
    answer_error(ci, stream, "limits", a.id);
    return;
  }
  /* The container's output is pipes the agent reads (see forward_output); a terminal's set-up
   * and any failure before the terminal exists go to the stdout one. */
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  int in_pipe[2] = {-1, -1}, master = -1, null_fd = -1, term[2] = {-1, -1}, ready[2] = {-1, -1};
  int failed = pipe2(out, O_CLOEXEC) || (!a.tty && pipe2(err, O_CLOEXEC)) ||
               (a.tty && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, term)) ||
               (!a.tty && interactive && pipe2(in_pipe, O_CLOEXEC)) ||
               (a.tty || !interactive ? (null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 : 0) ||
               /* Closed by the exec of the main command (or the child's death): until then its
                * mounts and root are not in place, and an exec joining it would land in the
                * VM's root instead. */
               pipe2(ready, O_CLOEXEC);
  if (failed) {
    answer_error(ci, stream, "pipe", NULL);
    int *fds[] = {&out[0], &out[1], &err[0], &err[1], &term[0], &term[1], &in_pipe[0], &in_pipe[1],
                  &null_fd, &ready[0], &ready[1]};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) close_fd(fds[i]);
    return;
  }
  a.stdin_fd = in_pipe[0] >= 0 ? in_pipe[0] : null_fd;
  a.stdout_fd = out[1];
  a.stderr_fd = a.tty ? out[1] : err[1];
  a.term_sock = term[1];
  static char stack[CHILD_STACK] __attribute__((aligned(16)));
  pid_t pid = clone(container_main, stack + sizeof stack, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, &a);
  int saved = errno;
  close_fd(&term[1]);
  close_fd(&ready[1]);
  close_fd(&in_pipe[0]);
  close_fd(&null_fd);
  close_fd(&out[1]);
  close_fd(&err[1]);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  if (err[0] >= 0) fcntl(err[0], F_SETFL, O_NONBLOCK);
  if (pid < 0) {
    errno = saved;
    answer_error(ci, stream, "clone", NULL);
    close_fd(&out[0]); close_fd(&err[0]); close_fd(&in_pipe[1]); close_fd(&term[0]); close_fd(&ready[0]);
    return;
  }
  if (a.tty) {
    /* A container that failed before its terminal existed has said why in its log. */
    master = receive_fd(term[0], 10000);
    close_fd(&term[0]);
    if (master < 0) {
      kill(pid, SIGKILL);
      forward_failure(c, &out[0]);
      agent_send_text(ci, AGENT_F_ERROR, stream, "container: its terminal did not come up (see its log)");
      close_fd(&ready[0]);
      /* Reaped by the main loop, which finds no container for it. */
      return;
    }
  }
  struct pollfd exec_done = {ready[0], POLLIN, 0};
  poll(&exec_done, 1, 10000);
  close_fd(&ready[0]);
  c->used = 1;
  snprintf(c->status_path, sizeof c->status_path, "%s", status_path);
  c->pid = pid;
  c->out_fd = out[0];
  c->err_fd = err[0];
  if (a.tty) {
    c->term_fd = master;
    c->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 0);
    fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(master, F_SETFL, O_NONBLOCK);
  } else {
    c->in_fd = in_pipe[1];
    if (c->in_fd >= 0) fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
  }
  /* A terminal stays open for attaching clients; a pipe only while its starter is connected. */
  if (a.tty && !interactive) close_fd(&c->in_fd);
  c->conn = ci;
  c->stream = stream;
  char msg[32];
  snprintf(msg, sizeof msg, "c%d", (int)pid);
  agent_send_text(ci, AGENT_F_CONTROL, stream, msg);
}

static void flush_in(struct container *c) {
  while (c->in_fd >= 0 && c->in_len > 0) {
    ssize_t n = write(c->in_fd, c->in_buf, c->in_len);
    if (n > 0) { memmove(c->in_buf, c->in_buf + n, c->in_len - (size_t)n); c->in_len -= (size_t)n; continue; }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    c->in_len = 0;
    close_fd(&c->in_fd);
  }
  if (c->in_len == 0 && c->in_close) close_fd(&c->in_fd);
}

int pod_handle_data(int ci, uint32_t stream, const unsigned char *p, size_t len) {
  struct container *c = by_stream(ci, stream);
  if (!c) return 0;
  if (c->in_fd < 0 || c->in_len + len > (64u << 20)) return 1;
  unsigned char *grown = realloc(c->in_buf, c->in_len + len);
  if (!grown) return 1;
  c->in_buf = grown;
  memcpy(c->in_buf + c->in_len, p, len);
  c->in_len += len;
  flush_in(c);
  return 1;
}

int pod_handle_close(int ci, uint32_t stream) {
  struct container *c = by_stream(ci, stream);
  if (!c) return 0;
  c->in_close = 1;
  flush_in(c);
  return 1;
}

/* `<number> <id>` as S and T carry them. */
static struct container *parse_target(const unsigned char *p, size_t len, char *number, size_t nlen) {
  char text[128];
  if (len >= sizeof text) return NULL;
  memcpy(text, p, len);
  text[len] = 0;
  char *space = strchr(text, ' ');
  if (!space) return NULL;
  *space = 0;
  snprintf(number, nlen, "%s", text);
  return find(space + 1);
}

int pod_handle_control(int ci, uint32_t stream, const unsigned char *p, size_t len) {
  if (len == 0) return 0;
  char number[128];
  struct container *c;
  switch (p[0]) {
    case 'C':
      start_container(ci, stream, p + 1, len - 1);
      return 1;
    case 'S':
      c = parse_target(p + 1, len - 1, number, sizeof number);
      if (!c) { agent_send_text(ci, AGENT_F_ERROR, stream, "container: no such container"); return 1; }
      if (c->pid > 0) kill(c->pid, atoi(number));
      agent_send_text(ci, AGENT_F_CONTROL, stream, "x0 0");
      return 1;
    case 'T': {
      c = parse_target(p + 1, len - 1, number, sizeof number);
      unsigned rows = 0, cols = 0;
      if (!c || c->term_fd < 0 || sscanf(number, "%ux%u", &rows, &cols) != 2) {
        agent_send_text(ci, AGENT_F_ERROR, stream, "container: no terminal to resize");
        return 1;
      }
      struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
      ioctl(c->term_fd, TIOCSWINSZ, &ws);
      agent_send_text(ci, AGENT_F_CONTROL, stream, "x0 0");
      return 1;
    }
    case 'D': {
      char id[65];
      if (len - 1 >= sizeof id) return 1;
      memcpy(id, p + 1, len - 1);
      id[len - 1] = 0;
      c = find(id);
      if (c && c->pid > 0) { agent_send_text(ci, AGENT_F_ERROR, stream, "container: still running"); return 1; }
      if (c) { free(c->in_buf); c->used = 0; }
      char group[512];
      cgroup_path(group, sizeof group, id, NULL);
      rmdir(group);
      agent_send_text(ci, AGENT_F_CONTROL, stream, "x0 0");
      return 1;
    }
  }
  return 0;
}

void pod_conn_closed(int ci) {
  for (int i = 0; i < MAX_CONTAINERS; i++) {
    struct container *c = &containers[i];
    if (!c->used || c->conn != ci) continue;
    c->conn = -1;
    /* A pipe's writer went away: end-of-file. A terminal stays for the next attach. */
    if (c->term_fd < 0) { free(c->in_buf); c->in_buf = NULL; c->in_len = 0; close_fd(&c->in_fd); }
  }
}

int pod_poll_fds(struct pollfd *fds, int *owner, int max) {
  int n = 0;
  for (int i = 0; i < MAX_CONTAINERS && n + 3 <= max; i++) {
    struct container *c = &containers[i];
    if (!c->used) continue;
    if (c->term_fd >= 0 && c->pid > 0) { fds[n] = (struct pollfd){c->term_fd, POLLIN, 0}; owner[n++] = i; }
    if (c->out_fd >= 0) { fds[n] = (struct pollfd){c->out_fd, POLLIN, 0}; owner[n++] = i; }
    if (c->err_fd >= 0) { fds[n] = (struct pollfd){c->err_fd, POLLIN, 0}; owner[n++] = i; }
    if (c->in_fd >= 0 && c->in_len > 0) { fds[n] = (struct pollfd){c->in_fd, POLLOUT, 0}; owner[n++] = i; }
  }
  return n;
}

void pod_ready(int owner, const struct pollfd *fd) {
  struct container *c = &containers[owner];
  if (!c->used) return;
  int readable = fd->revents & (POLLIN | POLLHUP | POLLERR);
  if (fd->fd == c->term_fd && readable) forward_output(c, &c->term_fd, 1, 0);
  else if (fd->fd == c->out_fd && readable) forward_output(c, &c->out_fd, 1, 0);
  else if (fd->fd == c->err_fd && readable) forward_output(c, &c->err_fd, 2, 0);
  else if (fd->fd == c->in_fd) flush_in(c);
}

/* Sends what is left in a container's output after its main process ended. Every process of
 * its pid namespace is gone by then (the kernel kills them when its init ends, and their files
 * close before init can be reaped), so the pipes hold their last bytes and then their end. */
static void drain_output(struct container *c) {
  int *fds[] = {&c->term_fd, &c->out_fd, &c->err_fd};
  for (int k = 0; k < 3; k++) {
    if (*fds[k] < 0) continue;
    fcntl(*fds[k], F_SETFL, O_NONBLOCK);
    while (*fds[k] >= 0 && forward_output(c, fds[k], k == 2 ? 2 : 1, 1)) {}
    close_fd(fds[k]);
  }
  send_record(c->id, POD_LOG_END, 1, NULL, 0);
}

int pod_reaped(pid_t pid, int status) {
  for (int i = 0; i < MAX_CONTAINERS; i++) {
    struct container *c = &containers[i];
    if (!c->used || c->pid != pid) continue;
    c->pid = 0;
    drain_output(c);
    free(c->in_buf); c->in_buf = NULL; c->in_len = 0;
    close_fd(&c->in_fd);
    /* After its output's end record: a host that reads the status finds the logs complete
     * once the keeper has written that record. */
    write_status(c, status);
    return 1;
  }
  return 0;
}

int pod_enter(const char *id, char *err, size_t errlen) {
  struct container *c = find(id);
  if (!c || c->pid <= 0) { snprintf(err, errlen, "container %s is not running", id); return -1; }
  char path[128];
  snprintf(path, sizeof path, "/proc/%d/root", (int)c->pid);
  int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)c->pid);
  int mnt = open(path, O_RDONLY | O_CLOEXEC);
  snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)c->pid);
  int pidns = open(path, O_RDONLY | O_CLOEXEC);
  char procs[512];
  cgroup_path(procs, sizeof procs, id, "cgroup.procs");
  if (root < 0 || mnt < 0 || pidns < 0 || write_text(procs, "0") || setns(mnt, CLONE_NEWNS) ||
      setns(pidns, CLONE_NEWPID) || fchdir(root) || chroot(".") || chdir("/")) {
    snprintf(err, errlen, "cannot enter container %s: %s", id, strerror(errno));
    return -1;
  }
  close(root); close(mnt); close(pidns);
  /* The pid namespace applies to children: the command runs in one, this process relays its
   * end (signals to the process group reach both). */
  pid_t child = fork();
  if (child < 0) { snprintf(err, errlen, "fork: %s", strerror(errno)); return -1; }
  if (child == 0) return 0;
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
  if (WIFSIGNALED(status)) {
    signal(WTERMSIG(status), SIG_DFL);
    kill(getpid(), WTERMSIG(status));
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}
