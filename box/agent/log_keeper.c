/*
 * A box's log keeper: the process between a box's output and its log files, so that a box
 * writing without end cannot fill the host's disk (Docker's `--log-opt max-size= max-file=`).
 * The launcher starts it before anything of a namespace box runs; the box's fds 1 and 2 are
 * pipes to it, and it appends what comes to FILE, rotating when FILE would pass the size:
 * FILE.1 is the newest rotated file, FILE.<max-file - 1> the oldest, and what falls off the end
 * is deleted. At most max-size * max-file bytes per stream are ever on disk.
 *
 * Readers (`box logs`) count a stream's bytes from its start, as the pipes carried them: FILE.offset
 * holds where FILE starts in that count (absent: 0), so byte counts an attached caller received
 * still name the same bytes after a rotation. A rotation rewrites it twice: marked `START rotating`
 * before the first rename, and the new START once the new FILE is there. A reader that reads the
 * same unmarked text before and after opening the files therefore saw no rename: a reader that
 * only compared the number took FILE.1 for FILE's predecessor while FILE was renamed and not yet
 * created, or opened one file as both FILE.1 and FILE.2, and printed bytes twice or out of order.
 *
 * FILE.keeper holds the keeper's pid while it runs, and goes when it has written the last byte:
 * a reader of a box that just ended waits for it rather than miss the last output still in a pipe.
 *
 * It runs outside the box's process group and session (its own), ignores the signals that end a
 * box, and ends when every writer of its pipes has closed them: when the last process of the
 * box is gone.
 *
 * The VM drivers put one in front of the process that runs a VM (QEMU, the kvm VMM) with
 * `a3s-agent keep-logs` (keep_logs_main): the VM's stdout, its stderr and the VM process's own
 * messages each get a pipe, and a pod VM's members' output comes on one more as records the
 * keeper sorts into each member's logs (pod_log_keeper.c).
 */
#define _GNU_SOURCE
#include "agent.h"
#include "log_keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The keeper reads its pipes at fds KEEPER_IN_FD...; a stream's write end goes to at most
 * KEEPER_MAX_TARGETS fds of the command, each under KEEPER_HIGH_FD. */
enum {
  KEEPER_IN_FD = 3, KEEPER_MAX_STREAMS = 4, KEEPER_MAX_TARGETS = 4, KEEPER_HIGH_FD = 16,
  KEEPER_CHUNK = 65536
};

/* A stream to keep: its log and the fds of the command its pipe's write end becomes. */
struct keeper_stream {
  const char *path;
  int targets[KEEPER_MAX_TARGETS];
  int ntargets;
};

static int open_current(struct kept_log *log) {
  log->fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct stat st;
  log->size = log->fd >= 0 && fstat(log->fd, &st) == 0 ? st.st_size : 0;
  return log->fd;
}

/* Writes FILE.offset whole or not at all (a temporary file renamed over it); `rotating` marks a
 * rotation under way, so that a reader opening the files meanwhile starts over. */
static void write_offset(const struct kept_log *log, int rotating) {
  char path[PATH_MAX + 16], tmp[PATH_MAX + 16], text[32];
  snprintf(path, sizeof path, "%s.offset", log->path);
  snprintf(tmp, sizeof tmp, "%s.offset.tmp", log->path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  int n = snprintf(text, sizeof text, "%lld%s\n", log->start, rotating ? " rotating" : "");
  int ok = write(fd, text, (size_t)n) == n;
  close(fd);
  if (ok) rename(tmp, path);
}

/* The size an earlier run of the box left, counted on: FILE.offset says where FILE started. */
static void read_offset(struct kept_log *log) {
  char path[PATH_MAX + 16], text[32] = {0};
  snprintf(path, sizeof path, "%s.offset", log->path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (read(fd, text, sizeof text - 1) > 0) log->start = atoll(text);
  close(fd);
}

/* FILE becomes FILE.1, FILE.k becomes FILE.k+1, the oldest goes; a new FILE starts after. */
static void rotate(struct kept_log *log) {
  char from[PATH_MAX + 16], to[PATH_MAX + 16];
  write_offset(log, 1);
  if (log->fd >= 0) close(log->fd);
  log->start += log->size;
  snprintf(to, sizeof to, "%s.%d", log->path, log->max_files - 1);
  if (log->max_files > 1) unlink(to);
  for (int k = log->max_files - 2; k >= 1; k--) {
    snprintf(from, sizeof from, "%s.%d", log->path, k);
    snprintf(to, sizeof to, "%s.%d", log->path, k + 1);
    rename(from, to);
  }
  if (log->max_files > 1) {
    snprintf(to, sizeof to, "%s.1", log->path);
    rename(log->path, to);
  } else {
    unlink(log->path);
  }
  open_current(log);
  write_offset(log, 0);
}

void kept_log_open(struct kept_log *log) {
  log->start = 0;
  read_offset(log);
  open_current(log);
}

void kept_log_append(struct kept_log *log, const char *p, long long n) {
  while (n > 0) {
    if (log->size >= log->max_size) rotate(log);
    long long room = log->max_size - log->size;
    long long part = n < room ? n : room;
    if (log->fd < 0 && open_current(log) < 0) return; /* nowhere to write: dropped, not kept */
    ssize_t w = write(log->fd, p, (size_t)part);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    log->size += w;
    p += w;
    n -= w;
  }
}

void kept_log_close(struct kept_log *log) {
  if (log->fd >= 0) close(log->fd);
  log->fd = -1;
}

void unlink_own_pid_file(const char *path) {
  char text[32] = {0};
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n > 0 && atoi(text) == (int)getpid()) unlink(path);
}

static struct kept_log logs[KEEPER_MAX_STREAMS];
static int nlogs;
static const char *pod_dir;
static char pid_files[2][PATH_MAX + 16];

/* Reads every pipe until all of them have ended: the last writer of the box is gone. */
static void __attribute__((noreturn)) keep(int ninputs) {
  static char chunk[KEEPER_CHUNK];
  struct pollfd fds[KEEPER_MAX_STREAMS + 1];
  int in[KEEPER_MAX_STREAMS + 1];
  for (int k = 0; k < ninputs; k++) in[k] = KEEPER_IN_FD + k;
  for (;;) {
    int open_count = 0;
    for (int k = 0; k < ninputs; k++) {
      fds[k] = (struct pollfd){in[k], POLLIN, 0};
      if (in[k] >= 0) open_count++;
    }
    if (!open_count) break;
    if (poll(fds, (nfds_t)ninputs, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < ninputs; k++) {
      if (in[k] < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(in[k], chunk, sizeof chunk);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        close(in[k]);
        in[k] = -1;
        continue;
      }
      /* The inputs after the streams' are the pod's records. */
      if (k < nlogs) kept_log_append(&logs[k], chunk, n);
      else pod_logs_feed((const unsigned char *)chunk, (size_t)n);
    }
  }
  if (pod_dir) pod_logs_finish();
  for (int k = 0; k < 2; k++) if (pid_files[k][0]) unlink(pid_files[k]);
  _exit(0);
}

/* The keeper's own process: nothing of its caller's but the pipes' read ends. */
static void __attribute__((noreturn)) keeper_main(const int *reads, int ninputs) {
  setsid();
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  /* Up high first, so that moving one down never lands on another's fd. */
  int high[KEEPER_MAX_STREAMS + 1];
  for (int k = 0; k < ninputs; k++) high[k] = fcntl(reads[k], F_DUPFD_CLOEXEC, 64);
  for (int k = 0; k < ninputs; k++) {
    dup2(high[k], KEEPER_IN_FD + k);
    close(high[k]);
  }
  /* The caller's pipes (the ready byte, an attached caller's output) must close when the box's
   * side does, not when the keeper ends. */
  if (syscall(SYS_close_range, KEEPER_IN_FD + ninputs, ~0U, 0) != 0) {
    for (int fd = KEEPER_IN_FD + ninputs; fd < 1024; fd++) close(fd);
  }
  int signals[] = {SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof signals / sizeof *signals; i++) signal(signals[i], SIG_IGN);
  for (int k = 0; k < nlogs; k++) kept_log_open(&logs[k]);
  if (pod_dir) pod_logs_init(pod_dir);
  keep(ninputs);
}

/* Writes the keeper's pid where readers look for it. */
static int write_pid_files(pid_t keeper) {
  for (int k = 0; k < 2; k++) {
    if (!pid_files[k][0]) continue;
    int fd = open(pid_files[k], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    dprintf(fd, "%d\n", (int)keeper);
    close(fd);
  }
  return 0;
}

/*
 * Starts a keeper of `streams` (and, with `pods`, of a pod VM's member records, whose write end
 * goes to fd `pod_target`); on return each stream's pipe is at its target fds. Returns 0, or -1
 * with errno set.
 */
static int keep_streams(const struct keeper_stream *streams, int n, long long size, int files,
                        const char *pods, int pod_target) {
  if (n < 1 || n > KEEPER_MAX_STREAMS) { errno = EINVAL; return -1; }
  int ninputs = n + (pods ? 1 : 0);
  int reads[KEEPER_MAX_STREAMS + 1], writes[KEEPER_MAX_STREAMS + 1];
  for (int k = 0; k < ninputs; k++) {
    int p[2];
    if (pipe2(p, O_CLOEXEC)) {
      for (int j = 0; j < k; j++) { close(reads[j]); close(writes[j]); }
      return -1;
    }
    reads[k] = p[0];
    writes[k] = p[1];
  }
  nlogs = n;
  for (int k = 0; k < n; k++) {
    logs[k] = (struct kept_log){.max_size = size, .max_files = files, .fd = -1};
    snprintf(logs[k].path, sizeof logs[k].path, "%s", streams[k].path);
  }
  pod_dir = pods;
  snprintf(pid_files[0], sizeof pid_files[0], "%s.keeper", streams[0].path);
  pid_files[1][0] = 0;
  /* A pod's members find their keeper here (see pod_log_keeper.c). */
  if (pods) snprintf(pid_files[1], sizeof pid_files[1], "%s/keeper", pods);
  /* Forked twice: the keeper is no child of bubblewrap or of the launcher, which wait for the
   * box alone. The middle process records the keeper's pid before it goes, so the file is there
   * before the box can write. */
  pid_t middle = fork();
  if (middle < 0) return -1;
  if (middle == 0) {
    for (int k = 0; k < ninputs; k++) close(writes[k]);
    pid_t keeper = fork();
    if (keeper == 0) keeper_main(reads, ninputs);
    _exit(keeper > 0 && write_pid_files(keeper) == 0 ? 0 : 1);
  }
  int status = 1;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {}
  for (int k = 0; k < ninputs; k++) close(reads[k]);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  /* Up high first: a pipe's own fd may be another stream's target. */
  for (int k = 0; k < ninputs; k++) {
    int moved = fcntl(writes[k], F_DUPFD_CLOEXEC, KEEPER_HIGH_FD);
    close(writes[k]);
    if (moved < 0) return -1;
    writes[k] = moved;
  }
  for (int k = 0; k < ninputs; k++) {
    const int *targets = k < n ? streams[k].targets : &pod_target;
    int ntargets = k < n ? streams[k].ntargets : 1;
    for (int t = 0; t < ntargets; t++) if (dup2(writes[k], targets[t]) < 0) return -1;
    close(writes[k]);
  }
  return 0;
}

int keep_logs(const char *out, const char *err, long long size, int files) {
  struct keeper_stream streams[2];
  int n = 0;
  if (out) streams[n++] = (struct keeper_stream){out, {1}, 1};
  if (err) streams[n++] = (struct keeper_stream){err, {2}, 1};
  return keep_streams(streams, n, size, files, NULL, -1);
}

/* `1,2` → {1, 2}: fds 1 to KEEPER_HIGH_FD - 1. Returns how many, 0 when malformed. */
static int parse_targets(const char *text, int *targets) {
  int n = 0;
  for (const char *p = text; *p;) {
    char *end;
    long fd = strtol(p, &end, 10);
    if (end == p || fd < 1 || fd >= KEEPER_HIGH_FD || n == KEEPER_MAX_TARGETS) return 0;
    targets[n++] = (int)fd;
    if (*end == ',') end++;
    else if (*end) return 0;
    p = end;
  }
  return n;
}

/*
 * `a3s-agent keep-logs --log-max BYTES FILES [--stdout FILE] [--stderr FILE] [--log FDS FILE]...
 * [--pod-logs FD DIR] -- COMMAND...`: runs COMMAND in this process with its output through a
 * keeper of those files. `--stdout FILE` is `--log 1 FILE`, `--stderr FILE` `--log 2 FILE`;
 * `--log 1,2 FILE` gives one stream both fds. With `--pod-logs`, fd FD takes a pod VM's member
 * records for the logs granted in DIR. COMMAND keeps this pid (a driver records it as the box's
 * process) and is the keeper's only writer, so the keeper ends once COMMAND and whatever
 * inherited its output are gone.
 */
int keep_logs_main(int argc, char **argv) {
  struct keeper_stream streams[KEEPER_MAX_STREAMS];
  int n = 0, files = 0, cmd = argc, pod_target = -1;
  long long size = 0;
  const char *pods = NULL;
  for (int i = 2; i < argc; i++) {
    int more = n < KEEPER_MAX_STREAMS;
    if (!strcmp(argv[i], "--stdout") && i + 1 < argc && more) {
      streams[n++] = (struct keeper_stream){argv[++i], {1}, 1};
    } else if (!strcmp(argv[i], "--stderr") && i + 1 < argc && more) {
      streams[n++] = (struct keeper_stream){argv[++i], {2}, 1};
    } else if (!strcmp(argv[i], "--log") && i + 2 < argc && more) {
      streams[n].ntargets = parse_targets(argv[++i], streams[n].targets);
      streams[n].path = argv[++i];
      if (!streams[n++].ntargets) { dprintf(2, "a3s-keep-logs: bad fds %s\n", argv[i - 1]); return 2; }
    } else if (!strcmp(argv[i], "--pod-logs") && i + 2 < argc) {
      pod_target = atoi(argv[++i]);
      pods = argv[++i];
    } else if (!strcmp(argv[i], "--log-max") && i + 2 < argc) {
      size = atoll(argv[++i]);
      files = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--")) {
      cmd = i + 1;
      break;
    } else {
      dprintf(2, "a3s-keep-logs: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (size <= 0 || files <= 0 || !n || cmd >= argc ||
      (pods && (pod_target < 1 || pod_target >= KEEPER_HIGH_FD))) {
    dprintf(2, "a3s-keep-logs: usage: keep-logs --log-max BYTES FILES [--stdout FILE] [--stderr FILE] "
               "[--log FDS FILE]... [--pod-logs FD DIR] -- COMMAND...\n");
    return 2;
  }
  if (keep_streams(streams, n, size, files, pods, pod_target)) {
    dprintf(2, "a3s-keep-logs: cannot start the log keeper: %s\n", strerror(errno));
    return 1;
  }
  execvp(argv[cmd], argv + cmd);
  dprintf(2, "a3s-keep-logs: %s: %s\n", argv[cmd], strerror(errno));
  return errno == ENOENT ? 127 : 126;
}
