/*
 * A box's log keeper: the process between a namespace box's stdout and stderr and its log files,
 * so that a box writing without end cannot fill the host's disk (Docker's `--log-opt max-size=
 * max-file=`). The launcher starts it before anything of the box runs; the box's fds 1 and 2 are
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
 * box, and ends when every writer of both pipes has closed them: when the last process of the
 * box is gone.
 *
 * The VM drivers put one in front of the process that writes a VM box's logs (QEMU, the kvm VMM)
 * with `a3s-agent keep-logs` (keep_logs_main), so every driver's logs rotate the same way.
 */
#define _GNU_SOURCE
#include "agent.h"

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

enum { KEEPER_IN_FD = 3, KEEPER_STREAMS = 2, KEEPER_CHUNK = 65536 };

struct kept_log {
  const char *path;
  int in;              /* the pipe's read end, -1 once it ended */
  int fd;              /* the current file, -1 while it cannot be opened */
  long long size;      /* bytes in the current file */
  long long start;     /* where the current file starts in the stream's count */
};

static long long max_size;
static int max_files;

static int open_current(struct kept_log *log) {
  log->fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct stat st;
  log->size = log->fd >= 0 && fstat(log->fd, &st) == 0 ? st.st_size : 0;
  return log->fd;
}

/* Writes FILE.offset whole or not at all (a temporary file renamed over it); `rotating` marks a
 * rotation under way, so that a reader opening the files meanwhile starts over. */
static void write_offset(const struct kept_log *log, int rotating) {
  char path[PATH_MAX], tmp[PATH_MAX], text[32];
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
  char path[PATH_MAX], text[32] = {0};
  snprintf(path, sizeof path, "%s.offset", log->path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (read(fd, text, sizeof text - 1) > 0) log->start = atoll(text);
  close(fd);
}

/* FILE becomes FILE.1, FILE.k becomes FILE.k+1, the oldest goes; a new FILE starts after. */
static void rotate(struct kept_log *log) {
  char from[PATH_MAX], to[PATH_MAX];
  write_offset(log, 1);
  if (log->fd >= 0) close(log->fd);
  log->start += log->size;
  snprintf(to, sizeof to, "%s.%d", log->path, max_files - 1);
  if (max_files > 1) unlink(to);
  for (int k = max_files - 2; k >= 1; k--) {
    snprintf(from, sizeof from, "%s.%d", log->path, k);
    snprintf(to, sizeof to, "%s.%d", log->path, k + 1);
    rename(from, to);
  }
  if (max_files > 1) {
    snprintf(to, sizeof to, "%s.1", log->path);
    rename(log->path, to);
  } else {
    unlink(log->path);
  }
  open_current(log);
  write_offset(log, 0);
}

/* Appends a chunk, rotating wherever the current file would pass max_size. */
static void append(struct kept_log *log, const char *p, long long n) {
  while (n > 0) {
    if (log->size >= max_size) rotate(log);
    long long room = max_size - log->size;
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

static void keeper_file(const char *path, char *out, size_t len) { snprintf(out, len, "%s.keeper", path); }

static void __attribute__((noreturn)) keep(struct kept_log *logs) {
  static char chunk[KEEPER_CHUNK];
  struct pollfd fds[KEEPER_STREAMS];
  for (;;) {
    int open_count = 0;
    for (int k = 0; k < KEEPER_STREAMS; k++) {
      fds[k].fd = logs[k].in;
      fds[k].events = POLLIN;
      fds[k].revents = 0;
      if (logs[k].in >= 0) open_count++;
    }
    if (!open_count) break;
    if (poll(fds, KEEPER_STREAMS, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < KEEPER_STREAMS; k++) {
      if (logs[k].in < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(logs[k].in, chunk, sizeof chunk);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        close(logs[k].in);
        logs[k].in = -1;
        continue;
      }
      append(&logs[k], chunk, n);
    }
  }
  char pidfile[PATH_MAX];
  keeper_file(logs[0].path ? logs[0].path : logs[1].path, pidfile, sizeof pidfile);
  unlink(pidfile);
  _exit(0);
}

/* The keeper's own process: nothing of the launcher's but the pipes' read ends. */
static void __attribute__((noreturn)) keeper_main(struct kept_log *logs) {
  setsid();
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  for (int k = 0; k < KEEPER_STREAMS; k++) {
    if (logs[k].in < 0) continue;
    int target = KEEPER_IN_FD + k;
    if (logs[k].in != target) {
      dup2(logs[k].in, target);
      close(logs[k].in);
    }
    logs[k].in = target;
  }
  /* The caller's pipes (the ready byte, an attached caller's output) must close when the box's
   * side does, not when the keeper ends. */
  if (syscall(SYS_close_range, KEEPER_IN_FD + KEEPER_STREAMS, ~0U, 0) != 0) {
    for (int fd = KEEPER_IN_FD + KEEPER_STREAMS; fd < 1024; fd++) close(fd);
  }
  int signals[] = {SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof signals / sizeof *signals; i++) signal(signals[i], SIG_IGN);
  for (int k = 0; k < KEEPER_STREAMS; k++) {
    if (!logs[k].path) continue;
    read_offset(&logs[k]);
    open_current(&logs[k]);
  }
  keep(logs);
}

int keep_logs(const char *out, const char *err, long long size, int files) {
  max_size = size;
  max_files = files;
  struct kept_log logs[KEEPER_STREAMS] = {{out, -1, -1, 0, 0}, {err, -1, -1, 0, 0}};
  int writers[KEEPER_STREAMS] = {-1, -1};
  for (int k = 0; k < KEEPER_STREAMS; k++) {
    if (!logs[k].path) continue;
    int p[2];
    if (pipe2(p, O_CLOEXEC)) return -1;
    logs[k].in = p[0];
    writers[k] = p[1];
  }
  char pidfile[PATH_MAX];
  keeper_file(out ? out : err, pidfile, sizeof pidfile);
  /* Forked twice: the keeper is no child of bubblewrap or of the launcher, which wait for the
   * box alone. The middle process records the keeper's pid before it goes, so the file is there
   * before the box can write. */
  pid_t middle = fork();
  if (middle < 0) return -1;
  if (middle == 0) {
    for (int k = 0; k < KEEPER_STREAMS; k++) if (writers[k] >= 0) close(writers[k]);
    pid_t keeper = fork();
    if (keeper == 0) keeper_main(logs);
    int status = 1;
    if (keeper > 0) {
      int fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dprintf(fd, "%d\n", (int)keeper);
        close(fd);
        status = 0;
      }
    }
    _exit(status);
  }
  int status = 1;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {}
  for (int k = 0; k < KEEPER_STREAMS; k++) if (logs[k].in >= 0) close(logs[k].in);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  for (int k = 0; k < KEEPER_STREAMS; k++) {
    if (writers[k] < 0) continue;
    if (dup2(writers[k], k + 1) < 0) return -1;
    close(writers[k]);
  }
  return 0;
}

/*
 * `a3s-agent keep-logs --stdout FILE --stderr FILE --log-max BYTES FILES -- COMMAND...`: runs
 * COMMAND in this process with fds 1 and 2 pipes to a keeper of those files. COMMAND keeps this
 * pid (a driver records it as the box's process) and is the keeper's only writer, so the keeper
 * ends once COMMAND and whatever inherited its output are gone.
 */
int keep_logs_main(int argc, char **argv) {
  const char *out = NULL, *err = NULL;
  long long size = 0;
  int files = 0, cmd = argc;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--stdout") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--stderr") && i + 1 < argc) err = argv[++i];
    else if (!strcmp(argv[i], "--log-max") && i + 2 < argc) {
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
  if (size <= 0 || files <= 0 || (!out && !err) || cmd >= argc) {
    dprintf(2, "a3s-keep-logs: usage: keep-logs [--stdout FILE] [--stderr FILE] --log-max BYTES FILES -- COMMAND...\n");
    return 2;
  }
  if (keep_logs(out, err, size, files)) {
    dprintf(2, "a3s-keep-logs: cannot start the log keeper: %s\n", strerror(errno));
    return 1;
  }
  execvp(argv[cmd], argv + cmd);
  dprintf(2, "a3s-keep-logs: %s: %s\n", argv[cmd], strerror(errno));
  return errno == ENOENT ? 127 : 126;
}
