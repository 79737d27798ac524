/*
 * The log keeper's files (log_keeper.c), shared with its pod demultiplexer (pod_log_keeper.c):
 * one rotation format for every log box writes, so `log_files.ts` reads them all.
 */
#ifndef A3S_LOG_KEEPER_H
#define A3S_LOG_KEEPER_H

#include <limits.h>

/* One log the keeper appends to: FILE, rotated to FILE.1 (the newest) ... FILE.<max_files - 1>,
 * with FILE.offset saying where FILE starts in the stream's byte count. */
struct kept_log {
  char path[PATH_MAX];
  long long max_size;  /* FILE rotates before it would pass this many bytes */
  int max_files;       /* files kept, FILE included */
  int fd;              /* the current file, -1 while it cannot be opened */
  long long size;      /* bytes in the current file */
  long long start;     /* where the current file starts in the stream's count */
};

/* Opens FILE where an earlier keeper of the same log left it: its size, and FILE.offset's start. */
void kept_log_open(struct kept_log *log);
/* Appends a chunk, rotating wherever FILE would pass max_size. */
void kept_log_append(struct kept_log *log, const char *p, long long n);
void kept_log_close(struct kept_log *log);
/* Removes `path` (a keeper's pid file) when it names this process: a newer keeper's stays. */
void unlink_own_pid_file(const char *path);

/* The pod demultiplexer, on the host: records from a pod VM's log port (see agent.h) go to the
 * logs its members were granted in `grant_dir` (one file per member id). */
void pod_logs_init(const char *grant_dir);
void pod_logs_feed(const unsigned char *p, size_t n);
/* The VM ended: every member's logs are closed and its pid file (`<stdout>.keeper`) removed. */
void pod_logs_finish(void);

#endif
