/*
 * The namespace driver's launcher: the first process of a namespace box, run on the host. It
 * does in one small static process what a shell wrapper, `setsid`, `nsenter` and a detached
 * spawn did before, then execs bubblewrap in its own place (so the pid the driver records is
 * bubblewrap's; on cgroup v2 it stays as bubblewrap's parent instead, see below):
 *   - a process group of its own, and a session of its own when the caller has a terminal (see
 *     detach), so the box outlives the CLI that started it, no terminal signal reaches it, and no
 *     box process has a controlling terminal to inject input into (which is why bubblewrap runs
 *     without its own --new-session);
 *   - stdout and stderr appended to the box's log files, through a keeper that rotates them
 *     with --log-max (log_keeper.c);
 *   - the seccomp program opened on fd 9 for bubblewrap's `--seccomp 9`;
 *   - optionally a network namespace to join (a pod's or a bridged network's);
 *   - with --ready, the caller's stdout kept on fd 11, where the agent (`--ready-fd 11`) writes
 *     one byte once it serves exec: the driver waits on a pipe instead of polling a socket;
 *   - with --attach as well, the caller's stderr kept on fd 15: the agent (`--attach-out 11
 *     --attach-err 15`) copies the main command's output there after the ready byte, besides
 *     the logs, so an attached caller reads it from pipes, as a caller of bubblewrap does;
 *   - a user namespace on fd 10 for `--userns 10`, mapping the ids 0-65535 to the host's own, so
 *     an exec can run as any user of the image (bubblewrap alone maps a single id). Writing a
 *     map wider than one id needs a process outside the namespace: a child is cloned into it,
 *     this process writes the child's maps and keeps the namespace by its fd;
 *   - the box's cgroups (v1), joined by this process before it forks or execs anything, so
 *     every process of the box is born in them and the box's cgroup namespace is rooted at its
 *     group. It moves only itself, as a single thread (`0` written to each group's `tasks`): the
 *     kernel then skips the global threadgroup lock whose write side waits for an RCU grace
 *     period (5-70 ms measured for moving a process by pid after a quiet spell, unless the
 *     hierarchy was mounted with favordynmods), and the move takes microseconds. This process
 *     has one thread, so moving the thread moves the process;
 *   - namespaced sysctls (`--sysctl net.ipv4.ip_forward=1`) written by a helper process, from
 *     inside the box's network and IPC namespaces, while the sandbox waits on `--block-fd` (its
 *     pid 1 named on `--info-fd`): bubblewrap mounts the box's /proc/sys read-only, and nothing
 *     in the box runs before they are set;
 *   - with --tty DIR, the box's first process on a pseudo-terminal: a devpts instance of the
 *     box's own is mounted on DIR in a mount namespace private to this launcher (the host never
 *     sees it; bubblewrap binds it on the box's /dev/pts), its first terminal becomes bubblewrap's
 *     stdin, stdout and stderr (so the main command's output is one stream, as on a terminal),
 *     and a pump process copies the terminal's output to the stdout log and the caller's stdin,
 *     if any, to the terminal, until the last process holding the terminal ends;
 *   - with --dev DIR, the box's /dev made here rather than by bubblewrap's --dev (which bind-mounts
 *     each device node from the host, and every bind makes bubblewrap read the whole mount table
 *     again: 3-7 ms of a start on a host with a hundred mounts). In a mount namespace private to
 *     this launcher (the host never sees it), a tmpfs on DIR gets the same nodes (null, zero, full,
 *     random, urandom, tty), symlinks, a devpts instance of its own on pts and a tmpfs on shm;
 *     bubblewrap then binds DIR on the box's /dev (`--dev-bind DIR /dev`). Nothing in the box can
 *     add a node: creating one takes CAP_MKNOD in the host's user namespace;
 *   - on cgroup v2 (--into-cgroup DIR), no move at all: bubblewrap is cloned straight into the
 *     box's group (clone3 with CLONE_INTO_CGROUP) and everything of the box inherits it; this
 *     process stays as bubblewrap's parent, exiting with its status, so the pid the driver
 *     records lives exactly as long as the box. A kernel without clone3 gets the move instead.
 *
 *   - with --prestart, the launcher is started before its box exists (a manager keeps one ready,
 *     as a zygote): it does the box-independent work above (the pipes kept, detach, /dev on
 *     --dev DIR, the user namespace), says so with one byte on its stdout, and blocks reading the
 *     box's spec from its stdin, a pipe only the manager holds; the spec (a count, then the same options as the command line plus
 *     --overlay LOWER UPPER WORK MERGED, and `-- bwrap ARGS...`) brings the box-specific rest.
 *     Waiting, it dies with the manager (PR_SET_PDEATHSIG; --parent PID catches a manager that
 *     died before that call); once it has a spec, the box outlives the manager as any box does.
 *     Its mount namespace was made before the box's overlay existed, so it mounts the overlay
 *     itself (only the box's namespaces see it): ahead, for the image its command line names
 *     (--overlay, the image the manager started last), kept when the spec names the same lower
 *     dir, unmounted and replaced by the spec's otherwise. The logs its command line names (in
 *     the dir the box takes) are opened ahead too; a spec naming others reopens them. On cgroup v1 it joins, before anything else, the
 *     groups the manager made ahead (--cgroup on its command line; renamed to the box's id when a
 *     box takes the launcher, its limits written before the spec is sent), so the user
 *     namespace's holder and /dev are in them too. Sysctls and a terminal never come this way.
 *
 *   a3s-agent launch [--cgroup DIR]... [--into-cgroup DIR] [--sysctl KEY=VALUE]...
 *                    [--stdout FILE] [--stderr FILE] [--log-max BYTES FILES] [--seccomp FILE]
 *                    [--netns PATH] [--userns] [--tty DIR] [--dev DIR] [--trace FILE] [--ready [--attach]] -- bwrap ARGS...
 *   a3s-agent launch --prestart --parent PID [--cgroup DIR]... [--dev DIR] [--userns]
 *                    [--overlay LOWER UPPER WORK MERGED] [--stdout FILE] [--stderr FILE]
 *                    (spec on stdin: COUNT, then [--cgroup DIR]... [--into-cgroup DIR]
 *                     [--stdout FILE] [--stderr FILE] [--log-max BYTES FILES] [--seccomp FILE]
 *                     [--netns PATH] [--overlay LOWER UPPER WORK MERGED] [--trace FILE] [--detached]
 *                     -- bwrap ARGS...)
 */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/sched.h>
#include <unistd.h>

enum {
  SECCOMP_FD = 9,
  USERNS_FD = 10,
  READY_FD = 11,
  BLOCK_FD = 12,
  INFO_FD = 13,
  TRACE_FD = 14,
  ATTACH_ERR_FD = 15,
  ID_COUNT = 65536,
  MAX_CGROUPS = 8,
  MAX_SYSCTLS = 64,
  MAX_ARGS = 4096,
};

static int fail(const char *what, const char *detail) {
  dprintf(2, "a3s-launch: %s %s: %s\n", what, detail, strerror(errno));
  return 125;
}

/* Opens `path` and moves the descriptor to `target` (inherited across exec). */
static int open_at_fd(const char *path, int flags, int target) {
  int fd = open(path, flags | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (fd != target) {
    if (dup2(fd, target) < 0) return -1;
    close(fd);
  } else {
    fcntl(fd, F_SETFD, 0);
  }
  return 0;
}

/* Moves `fd` to `target`, inherited across exec. */
static int move_fd(int fd, int target) {
  if (fd == target) return fcntl(fd, F_SETFD, 0);
  if (dup2(fd, target) < 0) return -1;
  close(fd);
  return 0;
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * Creates the wide user namespace and leaves it open on USERNS_FD. The child is cloned straight
 * into a new user namespace, so its maps are written at once, without waiting for it to run. It
 * waits on a pipe whose only writer closes when this process execs, then exits; bubblewrap, its
 * parent from then on, reaps it.
 */
static int userns_hold = -1;

static int make_userns(void) {
  int hold[2];
  if (pipe2(hold, O_CLOEXEC)) return -1;
  userns_hold = hold[1];
  pid_t child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (child < 0) return -1;
  if (child == 0) {
    close(hold[1]);
    /* Only the box may hold the caller's pipes (their end tells the caller the box is over). */
    close(READY_FD);
    close(ATTACH_ERR_FD);
    /* Nor the caller's stdio: a prestarted launcher makes this child before its logs are open. */
    for (int fd = 0; fd < 3; fd++) close(fd);
    char byte;
    while (read(hold[0], &byte, 1) < 0 && errno == EINTR) {}
    _exit(0);
  }
  close(hold[0]);
  char path[64], map[64];
  snprintf(map, sizeof map, "0 0 %d\n", ID_COUNT);
  snprintf(path, sizeof path, "/proc/%d/uid_map", child);
  int rc = write_file(path, map);
  snprintf(path, sizeof path, "/proc/%d/setgroups", child);
  if (rc == 0) rc = write_file(path, "allow");
  snprintf(path, sizeof path, "/proc/%d/gid_map", child);
  if (rc == 0) rc = write_file(path, map);
  snprintf(path, sizeof path, "/proc/%d/ns/user", child);
  if (rc == 0) rc = open_at_fd(path, O_RDONLY, USERNS_FD);
  if (rc) {
    int saved = errno;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    errno = saved;
  }
  return rc;
}

/*
 * Leaves the caller's process group, so no signal meant for the caller (a Ctrl-C to the CLI)
 * reaches the box. With a controlling terminal it takes a session of its own as well, so nothing
 * in the box can open that terminal and inject input into it. A new session costs a scheduler
 * group (autogroup) and a few milliseconds on a busy host, so a caller without a terminal (serve)
 * only gets the process group.
 */
static int detach(void) {
  int tty = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
  if (tty < 0) return setpgid(0, 0);
  close(tty);
  return setsid() < 0 ? -1 : 0;
}

/* Moves this process, a single thread, into each v1 group (see the header). */
static int join_cgroups_self(const char **cgroups, int ncgroups) {
  for (int i = 0; i < ncgroups; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tasks", cgroups[i]);
    if (write_file(path, "0")) return fail("join cgroup", cgroups[i]);
  }
  return 0;
}

static int join_cgroups(pid_t pid, const char **cgroups, int ncgroups) {
  char value[32];
  snprintf(value, sizeof value, "%d", pid);
  for (int i = 0; i < ncgroups; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/cgroup.procs", cgroups[i]);
    if (write_file(path, value)) return fail("join cgroup", cgroups[i]);
  }
  return 0;
}

/* Reads bubblewrap's info JSON until it names the sandbox's pid 1; 0 when it never does. */
static pid_t read_child_pid(int fd) {
  char buf[4096];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    len += (size_t)n;
    buf[len] = 0;
    char *key = strstr(buf, "\"child-pid\":");
    if (key) {
      char *end;
      long pid = strtol(key + 12, &end, 10);
      /* The number is complete once something follows it. */
      if (*end) return (pid_t)pid;
    }
    if (len >= sizeof buf - 1) return 0;
  }
}

/* Enters the network and IPC namespaces of `pid` (the sandbox) and writes each KEY=VALUE to its
 * /proc/sys file; only namespaced keys reach here (the driver checks them). */
static int apply_sysctls(pid_t pid, const char **sysctls, int nsysctls) {
  static const char *kinds[] = {"net", "ipc"};
  static const int flags[] = {CLONE_NEWNET, CLONE_NEWIPC};
  for (int k = 0; k < 2; k++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", pid, kinds[k]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, flags[k])) return fail("enter the box's namespace", kinds[k]);
    close(fd);
  }
  for (int i = 0; i < nsysctls; i++) {
    const char *eq = strchr(sysctls[i], '=');
    char path[512];
    int len = snprintf(path, sizeof path, "/proc/sys/%.*s", (int)(eq - sysctls[i]), sysctls[i]);
    for (int c = 10; c < len; c++) if (path[c] == '.') path[c] = '/';
    if (write_file(path, eq + 1)) return fail("set sysctl", sysctls[i]);
  }
  return 0;
}

/*
 * The sysctl helper: sets the sysctls inside the sandbox (its pid 1 read from bubblewrap's info),
 * then unblocks it. On any failure the sandbox is killed before it runs anything.
 */
static void sandbox_helper(pid_t monitor, const char **sysctls, int nsysctls, int info, int block) {
  pid_t child = read_child_pid(info);
  if (child <= 0) _exit(1); /* bubblewrap failed before making the sandbox; it says why */
  trace("helper: sandbox pid read");
  if (apply_sysctls(child, sysctls, nsysctls)) {
    kill(child, SIGKILL);
    kill(monitor, SIGKILL);
    _exit(1);
  }
  trace("helper: sysctls set, unblocking");
  ssize_t ignored = write(block, "g", 1);
  (void)ignored;
  /* bubblewrap goes on writing its info after the pid; a reader that left would kill it with
   * SIGPIPE, so read to the end. */
  char rest[512];
  for (;;) {
    ssize_t n = read(info, rest, sizeof rest);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  _exit(0);
}

/* Whether the ready pipe is open on READY_FD (it is with --ready). */
static int ready_fd_open(void) { return fcntl(READY_FD, F_GETFD) >= 0; }

/* Copies everything the terminal writes to `out`, and `in` (when open) to the terminal; returns
 * once no process holds the terminal (reading it fails with EIO). */
static void pump_terminal(int master, int in, int out) {
  char buf[8192];
  for (;;) {
    struct pollfd fds[2] = {{master, POLLIN, 0}, {in, POLLIN, 0}};
    if (poll(fds, in >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      for (ssize_t done = 0; done < n;) {
        ssize_t w = write(out, buf + done, (size_t)(n - done));
        if (w < 0 && errno != EINTR) return;
        if (w > 0) done += w;
      }
    }
    if (in >= 0 && fds[1].revents) {
      ssize_t n = read(in, buf, sizeof buf);
      if (n <= 0) { close(in); in = -1; continue; }
      for (ssize_t done = 0; done < n;) {
        ssize_t w = write(master, buf + done, (size_t)(n - done));
        if (w < 0 && errno != EINTR) break;
        if (w > 0) done += w;
      }
    }
  }
}

/* Gives this process a mount namespace of its own with a new devpts instance on `dir`, opens its
 * first terminal on fds 0-2, and forks the pump (see above). */
static int open_terminal(const char *dir) {
  if (unshare(CLONE_NEWNS)) return fail("make", "a mount namespace for the terminal");
  /* Private, so the devpts mount never propagates to the host. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) return fail("make", "mounts private");
  if (mount("devpts", dir, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"))
    return fail("mount devpts on", dir);
  char path[4096];
  snprintf(path, sizeof path, "%s/ptmx", dir);
  int master = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  int unlock = 0;
  unsigned index = 0;
  if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) || ioctl(master, TIOCGPTN, &index))
    return fail("open a terminal in", dir);
  /* A terminal's usual size until a client sets its own, as a VM box's agent gives its main
   * command (a new pty is 0x0, which full-screen programs and line wrapping take literally). */
  struct winsize size = {.ws_row = 24, .ws_col = 80};
  if (ioctl(master, TIOCSWINSZ, &size)) return fail("size the terminal in", dir);
  snprintf(path, sizeof path, "%s/%u", dir, index);
  int slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return fail("open", path);
  /* The caller's stdin (a pipe for an interactive box, /dev/null otherwise) feeds the pump. */
  int in = fcntl(0, F_DUPFD_CLOEXEC, 3);
  pid_t pump = fork();
  if (pump < 0) return fail("fork", "the terminal pump");
  if (pump == 0) {
    close(slave);
    if (ready_fd_open()) close(READY_FD);
    close(ATTACH_ERR_FD);
    pump_terminal(master, in, 1);
    _exit(0);
  }
  close(master);
  if (in >= 0) close(in);
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) return fail("attach", "the terminal");
  close(slave);
  return 0;
}

/* The devices bubblewrap's --dev gives a sandbox, with their numbers. */
static const struct { const char *name; unsigned major, minor; } DEV_NODES[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};
static const char *DEV_LINKS[][2] = {
    {"fd", "/proc/self/fd"},        {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},  {"core", "/proc/kcore"},      {"ptmx", "pts/ptmx"},
};

/* Builds the box's /dev on `dir` in a mount namespace of this launcher's own (see the header). */
static int make_dev(const char *dir) {
  if (mkdir(dir, 0755) && errno != EEXIST) return fail("make", dir);
  if (unshare(CLONE_NEWNS)) return fail("make", "a mount namespace for /dev");
  /* Private, so none of these mounts propagates to the host. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) return fail("make", "mounts private");
  if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755")) return fail("mount a tmpfs on", dir);
  char path[4096];
  mode_t mask = umask(0);
  for (size_t i = 0; i < sizeof DEV_NODES / sizeof DEV_NODES[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, DEV_NODES[i].name);
    if (mknod(path, S_IFCHR | 0666, makedev(DEV_NODES[i].major, DEV_NODES[i].minor))) {
      umask(mask);
      return fail("make", path);
    }
  }
  umask(mask);
  for (size_t i = 0; i < sizeof DEV_LINKS / sizeof DEV_LINKS[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, DEV_LINKS[i][0]);
    if (symlink(DEV_LINKS[i][1], path)) return fail("make", path);
  }
  snprintf(path, sizeof path, "%s/pts", dir);
  if (mkdir(path, 0755) || mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
                                 "newinstance,ptmxmode=0666,mode=620"))
    return fail("mount devpts on", path);
  snprintf(path, sizeof path, "%s/shm", dir);
  if (mkdir(path, 01777) || mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"))
    return fail("mount a tmpfs on", path);
  return 0;
}

/*
 * cgroup v2: clones `exec_argv` (bubblewrap) straight into the group at `dir` and waits for it as
 * its parent, returning its exit status. Where the kernel lacks clone3, joins the group and execs.
 */
static int run_in_cgroup(const char *dir, char **exec_argv) {
  int cgroup = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cgroup < 0) return fail("open cgroup", dir);
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = (unsigned long long)cgroup;
  pid_t child = (pid_t)syscall(SYS_clone3, &args, sizeof args);
  if (child < 0 && (errno == ENOSYS || errno == E2BIG)) {
    const char *groups[] = {dir};
    if (join_cgroups(getpid(), groups, 1)) return 125;
    execvp(exec_argv[0], exec_argv);
    return fail("exec", exec_argv[0]);
  }
  if (child < 0) return fail("clone into cgroup", dir);
  if (child == 0) {
    execvp(exec_argv[0], exec_argv);
    dprintf(2, "a3s-launch: exec %s: %s\n", exec_argv[0], strerror(errno));
    _exit(125);
  }
  trace("launch: bubblewrap cloned into its cgroup");
  /* Only the box may hold the ready pipe (its end tells the driver the box never came up), the
   * box's stdin, and the pipe that keeps the user namespace's first holder waiting. */
  close(cgroup);
  close(READY_FD);
  close(ATTACH_ERR_FD);
  close(0);
  if (userns_hold >= 0) close(userns_hold);
  /* Nor the descriptors passed to bubblewrap: the helper reads its info pipe to the end. */
  for (int fd = SECCOMP_FD; fd <= INFO_FD; fd++) close(fd);
  int status = 0;
  for (;;) {
    pid_t done = waitpid(-1, &status, 0);
    if (done == child) break;
    if (done < 0 && errno != EINTR) return 125;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* What the launcher was asked to do: from its command line, and for a prestarted launcher (see
 * the header) from the spec the manager sends. */
struct launch_options {
  const char *cgroups[MAX_CGROUPS], *sysctls[MAX_SYSCTLS], *overlay[4];
  int ncgroups, nsysctls;
  int joined; /* how many of `cgroups` a prestarted launcher joined before its spec */
  const char *out, *err, *seccomp, *netns, *tty, *into, *dev, *trace;
  /* --log-max BYTES FILES: the logs go through a keeper that rotates them (log_keeper.c). */
  long long log_max_size;
  int log_max_files;
  int userns, ready, attach, detached, prestart;
  /* A prestarted launcher's overlay mounted ahead: its lower dir's device and inode, so a spec
   * naming the same image (the same dir, not a path that now names another) skips the mount. */
  int overlay_ahead;
  const char *ahead_lower, *ahead_merged;
  dev_t ahead_dev;
  ino_t ahead_ino;
  pid_t parent;
  char **cmd; /* bubblewrap's argv, NULL-terminated */
  int ncmd;
};

/* Reads launcher arguments from argv[first..argc) into `o`; returns 0, or 2 on a bad one. */
static int parse_options(int argc, char **argv, int first, struct launch_options *o) {
  for (int i = first; i < argc; i++) {
    if (!strcmp(argv[i], "--cgroup") && i + 1 < argc && o->ncgroups < MAX_CGROUPS) o->cgroups[o->ncgroups++] = argv[++i];
    else if (!strcmp(argv[i], "--sysctl") && i + 1 < argc && o->nsysctls < MAX_SYSCTLS && strchr(argv[i + 1], '=')) o->sysctls[o->nsysctls++] = argv[++i];
    else if (!strcmp(argv[i], "--stdout") && i + 1 < argc) o->out = argv[++i];
    else if (!strcmp(argv[i], "--stderr") && i + 1 < argc) o->err = argv[++i];
    else if (!strcmp(argv[i], "--log-max") && i + 2 < argc) {
      o->log_max_size = atoll(argv[++i]);
      o->log_max_files = atoi(argv[++i]);
      if (o->log_max_size <= 0 || o->log_max_files <= 0) { dprintf(2, "a3s-launch: bad --log-max\n"); return 2; }
    }
    else if (!strcmp(argv[i], "--seccomp") && i + 1 < argc) o->seccomp = argv[++i];
    else if (!strcmp(argv[i], "--netns") && i + 1 < argc) o->netns = argv[++i];
    else if (!strcmp(argv[i], "--tty") && i + 1 < argc) o->tty = argv[++i];
    else if (!strcmp(argv[i], "--dev") && i + 1 < argc) o->dev = argv[++i];
    else if (!strcmp(argv[i], "--into-cgroup") && i + 1 < argc) o->into = argv[++i];
    else if (!strcmp(argv[i], "--trace") && i + 1 < argc) o->trace = argv[++i];
    else if (!strcmp(argv[i], "--parent") && i + 1 < argc) o->parent = (pid_t)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--overlay") && i + 4 < argc) {
      for (int k = 0; k < 4; k++) o->overlay[k] = argv[++i];
    }
    else if (!strcmp(argv[i], "--userns")) o->userns = 1;
    else if (!strcmp(argv[i], "--ready")) o->ready = 1;
    else if (!strcmp(argv[i], "--attach")) o->attach = 1;
    else if (!strcmp(argv[i], "--detached")) o->detached = 1;
    else if (!strcmp(argv[i], "--prestart")) o->prestart = 1;
    else if (!strcmp(argv[i], "--")) {
      o->cmd = argv + i + 1;
      o->ncmd = argc - i - 1;
      break;
    }
    else { dprintf(2, "a3s-launch: unknown argument %s\n", argv[i]); return 2; }
  }
  return 0;
}

/* Mounts the box's overlay (lower, upper, work, merged) in this launcher's mount namespace. */
static int mount_overlay(const char *const overlay[4]) {
  char options[3 * 4096 + 64];
  int n = snprintf(options, sizeof options, "lowerdir=%s,upperdir=%s,workdir=%s", overlay[0],
                   overlay[1], overlay[2]);
  if (n < 0 || (size_t)n >= sizeof options) {
    errno = ENAMETOOLONG;
    return fail("mount the overlay on", overlay[3]);
  }
  if (mount("overlay", overlay[3], "overlay", 0, options)) return fail("mount the overlay on", overlay[3]);
  return 0;
}

/* The largest spec a prestarted launcher accepts (bubblewrap's arguments, environment included). */
#define MAX_SPEC (4 << 20)

/*
 * A prestarted launcher's spec, read from fd 0 (a pipe only the manager holds): a decimal count,
 * then that many arguments, each ending in a NUL. Anything short of the whole count (the manager
 * closed the pipe or died) is no spec: the launcher then exits without running anything. The
 * arguments point into one buffer that lives until the exec.
 */
static int read_spec(char ***argv_out, int *argc_out) {
  size_t cap = 16384, len = 0;
  char *buf = malloc(cap);
  if (!buf) return -1;
  for (;;) {
    /* Complete once the count's arguments are all in. */
    char *end = memchr(buf, 0, len);
    if (end) {
      long count = strtol(buf, NULL, 10);
      if (count <= 0 || count > MAX_ARGS - 8) return -1;
      char *p = end + 1;
      int seen = 0;
      while (seen < count && p < buf + len) {
        char *nul = memchr(p, 0, (size_t)(buf + len - p));
        if (!nul) break;
        seen++;
        p = nul + 1;
      }
      if (seen == count) {
        char **argv = calloc((size_t)count + 1, sizeof *argv);
        if (!argv) return -1;
        p = end + 1;
        for (int i = 0; i < count; i++) {
          argv[i] = p;
          p += strlen(p) + 1;
        }
        *argv_out = argv;
        *argc_out = (int)count;
        return 0;
      }
    }
    if (len == cap) {
      if (cap >= MAX_SPEC) return -1;
      cap *= 2;
      char *grown = realloc(buf, cap);
      if (!grown) return -1;
      buf = grown;
    }
    ssize_t n = read(0, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    len += (size_t)n;
  }
}

/*
 * Settles a prestarted launcher's overlay against its spec: the overlay mounted ahead stays when
 * the spec names the same lower dir (by path, device and inode) and its merged dir is where it
 * was mounted (the state dir renamed, the mount with it); otherwise it is unmounted, and the
 * spec's overlay, if any, is mounted in its place by launch_main. Correct either way: the box
 * only ever gets the image its spec names.
 */
static int prestart_overlay(struct launch_options *o) {
  if (!o->overlay_ahead) return 0;
  struct stat lower, merged;
  int same = o->overlay[0] && stat(o->overlay[0], &lower) == 0 && lower.st_dev == o->ahead_dev &&
             lower.st_ino == o->ahead_ino && stat(o->overlay[3], &merged) == 0 &&
             merged.st_dev != lower.st_dev && strcmp(o->overlay[0], o->ahead_lower) == 0;
  if (same) {
    trace("launch: overlay mounted ahead kept");
    memset(o->overlay, 0, sizeof o->overlay);
    return 0;
  }
  /* The mount sits on the dir the spec's merged path names now (the launcher's dir, renamed to
   * the box's), or where it was made when the spec brings no overlay. */
  const char *on = o->overlay[3] ? o->overlay[3] : o->ahead_merged;
  if (umount2(on, MNT_DETACH)) {
    fail("unmount the overlay mounted ahead on", on);
    return -1;
  }
  trace("launch: overlay mounted ahead unmounted");
  return 0;
}

/*
 * The box-independent part of a prestarted launcher (--prestart): it dies with the manager that
 * spawned it (PR_SET_PDEATHSIG, checked against --parent for a manager that died before the
 * call), keeps the caller's pipes, leaves the caller's process group, makes the box's /dev and
 * the wide user namespace, then waits for the spec. Returns 0 with the spec's arguments parsed
 * into `o`, or -1 when no spec came (the launcher then exits, having started nothing).
 */
static int prestart(struct launch_options *o) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) || (o->parent > 0 && getppid() != o->parent)) return -1;
  if (dup2(1, READY_FD) < 0 || dup2(2, ATTACH_ERR_FD) < 0) return -1;
  if (detach() < 0) return -1;
  /* Groups made ahead for the next box (renamed to its id when a box takes this launcher), so
   * the user namespace's holder and /dev are the box's from the start. */
  if (join_cgroups_self(o->cgroups, o->ncgroups)) return -1;
  o->joined = o->ncgroups;
  if (o->dev && make_dev(o->dev)) return -1;
  /* The overlay of the image the manager expects next (the one it started last), mounted ahead
   * in this launcher's mount namespace: the spec then only confirms it (see prestart_overlay). */
  if (o->overlay[0]) {
    struct stat lower;
    if (stat(o->overlay[0], &lower) || mount_overlay(o->overlay)) return -1;
    o->overlay_ahead = 1;
    o->ahead_lower = o->overlay[0];
    o->ahead_merged = o->overlay[3];
    o->ahead_dev = lower.st_dev;
    o->ahead_ino = lower.st_ino;
  }
  /* The logs, opened ahead in the state dir the box takes (renaming it keeps them); a spec that
   * names other logs reopens them. */
  if (o->out && open_at_fd(o->out, O_WRONLY | O_CREAT | O_APPEND, 1)) return -1;
  if (o->err && open_at_fd(o->err, O_WRONLY | O_CREAT | O_APPEND, 2)) return -1;
  if (o->userns && make_userns()) return -1;
  /* Prepared: the manager takes no launcher before this byte, so it never renames the dir the
   * launcher is still building /dev in, nor hands a spec to one whose setup could still fail. */
  if (write(READY_FD, "p", 1) != 1) return -1;
  char **argv;
  int argc;
  if (read_spec(&argv, &argc)) return -1;
  /* What the command line did ahead is done; the spec says what the box needs. */
  o->out = o->err = NULL;
  memset(o->overlay, 0, sizeof o->overlay);
  /* The box outlives the manager (a CLI that started it and left), as a box started the usual
   * way does. */
  if (prctl(PR_SET_PDEATHSIG, 0)) return -1;
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0) return -1;
  close(null);
  if (parse_options(argc, argv, 0, o)) return -1;
  /* What only a command line may ask for (sysctls, a terminal) never comes in a spec: the
   * manager starts such boxes the usual way. */
  if (o->nsysctls || o->tty || !o->cmd || o->ncmd < 1) {
    dprintf(2, "a3s-launch: a prestarted launcher's spec cannot ask for this\n");
    return -1;
  }
  if (o->trace) trace_fd = open(o->trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (trace_fd >= 0 && move_fd(trace_fd, TRACE_FD) == 0) trace_fd = TRACE_FD;
  trace("launch: spec read");
  if (prestart_overlay(o)) return -1;
  /* A detached box's command writes to its logs only. */
  if (o->detached) close(ATTACH_ERR_FD);
  return 0;
}

int launch_main(int argc, char **argv) {
  struct launch_options o;
  memset(&o, 0, sizeof o);
  if (parse_options(argc, argv, 2, &o)) return 2;
  if (o.prestart) {
    /* Everything the manager's own pipes may carry: the ready byte, and the output of an
     * attached box (dropped again for a detached one). */
    o.ready = 1;
    if (prestart(&o)) return 125;
  } else {
    if (!o.cmd || o.ncmd < 1 || o.ncmd > MAX_ARGS - 8) { dprintf(2, "a3s-launch: no command\n"); return 2; }
    const char *trace_path = o.trace ? o.trace : getenv("A3S_LAUNCH_TRACE");
    if (trace_path) trace_fd = open(trace_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    /* The trace file also reaches the agent inside the box (`--trace-fd 14`), so one file holds
     * a whole start. */
    if (trace_fd >= 0 && move_fd(trace_fd, TRACE_FD) == 0) trace_fd = TRACE_FD;
    trace("launch: started");
    if (o.ready && dup2(1, READY_FD) < 0) return fail("keep", "the ready pipe");
    if (o.ready && o.attach && dup2(2, ATTACH_ERR_FD) < 0) return fail("keep", "the attach pipe");
  }
  /* The logs first, so every later failure lands where the driver reads it. Bounded, they are
   * pipes to a keeper that rotates the files (started before the cgroups are joined, so a box
   * killed whole leaves it to write what the pipes still hold). */
  if (o.log_max_size > 0 && (o.out || o.err)) {
    if (keep_logs(o.out, o.err, o.log_max_size, o.log_max_files)) return fail("start", "the log keeper");
  } else {
    if (o.out && open_at_fd(o.out, O_WRONLY | O_CREAT | O_APPEND, 1)) return fail("open", o.out);
    if (o.err && open_at_fd(o.err, O_WRONLY | O_CREAT | O_APPEND, 2)) return fail("open", o.err);
  }
  if (!o.prestart && detach() < 0) return fail("detach", "from the caller's terminal");
  /* Before anything forks: every process of the box (the terminal's pump too) is born inside. */
  if (join_cgroups_self(o.cgroups + o.joined, o.ncgroups - o.joined)) return 125;
  trace("launch: cgroups joined");
  /* A prestarted launcher's mount namespace was made before the box existed, so the overlay the
   * manager would mount on the host would not reach it: it mounts the overlay itself, where only
   * the box's namespaces see it (and it goes with them). */
  if (o.overlay[0] && mount_overlay(o.overlay)) return 125;
  if (!o.prestart) {
    /* Before the helper forks, so neither the pump nor the terminal holds the helper's pipes. */
    if (o.tty && open_terminal(o.tty)) return 125;
    if (o.dev) {
      if (make_dev(o.dev)) return 125;
      trace("launch: /dev made");
    }
  }
  pid_t helper = -1;
  int info[2] = {-1, -1}, block[2] = {-1, -1};
  int need_helper = o.nsysctls > 0;
  if (need_helper) {
    if (pipe2(info, O_CLOEXEC) || pipe2(block, O_CLOEXEC)) return fail("make", "pipes");
    pid_t monitor = getpid();
    helper = fork();
    if (helper < 0) return fail("fork", "the sysctl helper");
    if (helper == 0) {
      close(info[1]);
      close(block[0]);
      if (o.ready) close(READY_FD);
      if (o.attach) close(ATTACH_ERR_FD);
      sandbox_helper(monitor, o.sysctls, o.nsysctls, info[0], block[1]);
    }
    close(info[0]);
    close(block[1]);
  }
  if (o.seccomp && open_at_fd(o.seccomp, O_RDONLY, SECCOMP_FD)) return fail("open", o.seccomp);
  if (o.netns) {
    int fd = open(o.netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET)) return fail("join network namespace", o.netns);
    close(fd);
  }
  trace("launch: fds open");
  if (!o.prestart && o.userns && make_userns()) return fail("create user namespace", "");
  trace("launch: user namespace made");
  signal(SIGPIPE, SIG_DFL);
  if (!need_helper) {
    trace("launch: exec bubblewrap");
    if (o.into) return run_in_cgroup(o.into, o.cmd);
    execvp(o.cmd[0], o.cmd);
    return fail("exec", o.cmd[0]);
  }
  if (move_fd(block[0], BLOCK_FD) || move_fd(info[1], INFO_FD)) return fail("pass", "pipes");
  /* bwrap --block-fd 12 --info-fd 13 ARGS...: the helper has the other ends. */
  static char *bwrap_argv[MAX_ARGS];
  int n = 0;
  bwrap_argv[n++] = o.cmd[0];
  bwrap_argv[n++] = "--block-fd";
  bwrap_argv[n++] = "12";
  bwrap_argv[n++] = "--info-fd";
  bwrap_argv[n++] = "13";
  for (int i = 1; i < o.ncmd; i++) bwrap_argv[n++] = o.cmd[i];
  bwrap_argv[n] = NULL;
  trace("launch: exec bubblewrap");
  if (o.into) return run_in_cgroup(o.into, bwrap_argv);
  execvp(bwrap_argv[0], bwrap_argv);
  int saved = errno;
  kill(helper, SIGKILL);
  errno = saved;
  return fail("exec", o.cmd[0]);
}
