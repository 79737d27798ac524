/*
 * The host half of a pod VM's member logs: the log keeper in front of the pod's QEMU reads the
 * records the guest agent sends on the pod log port (see agent.h and pod.c) and appends each
 * member's output to that member's own logs, rotated as every other box's are (log_keeper.c).
 *
 * The guest names a member only by its id; where its logs are and how large they may grow is
 * what the host granted it: the driver writes `<grant dir>/<id>` (`STDOUT\nSTDERR\nBYTES FILES\n`,
 * in the pod sandbox's state dir, which the guest cannot reach) before it starts the member, with
 * the keeper's pid in `STDOUT.keeper`. A record for an id with no grant is dropped, so a guest
 * can neither write outside its members' logs nor past their bound. The member's pid file goes
 * once its end record is written (readers of an ended member wait for that), or when the VM ends.
 */
#define _GNU_SOURCE
#include "agent.h"
#include "log_keeper.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* As many members as a pod VM's agent runs (pod.c). */
enum { POD_LOG_MEMBERS = 64 };

struct member {
  int used;
  char id[POD_LOG_MAX_ID + 1];
  struct kept_log logs[2];        /* stdout, stderr */
};

static struct member members[POD_LOG_MEMBERS];
static const char *grants;

/* The record being read: its header, then its id, then `left` bytes of data. */
static unsigned char head[POD_LOG_HEAD];
static size_t head_len;
static char id[POD_LOG_MAX_ID + 1];
static size_t id_len, id_want;
static uint32_t left;
static struct member *target;
static int stream_index;
/* A malformed record: nothing after it can be framed again, so the rest is dropped. */
static int corrupt;

void pod_logs_init(const char *grant_dir) { grants = grant_dir; }

static int valid_id(const char *text) {
  if (!*text) return 0;
  for (const char *p = text; *p; p++) if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
  return 1;
}

/* Reads `<grants>/<id>`: the member's two log paths and their bound. 0 when there is no valid
 * grant; the logs are not opened. */
static int read_grant(struct member *m) {
  char path[PATH_MAX], text[2 * PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", grants, m->id);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 0;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = 0;
  char *save = NULL, *out = strtok_r(text, "\n", &save), *err = strtok_r(NULL, "\n", &save);
  char *bound = strtok_r(NULL, "\n", &save);
  long long size = 0;
  int files = 0;
  if (!out || !err || !bound || out[0] != '/' || err[0] != '/' ||
      sscanf(bound, "%lld %d", &size, &files) != 2 || size <= 0 || files <= 0) return 0;
  const char *paths[2] = {out, err};
  for (int k = 0; k < 2; k++) {
    m->logs[k] = (struct kept_log){.max_size = size, .max_files = files, .fd = -1};
    snprintf(m->logs[k].path, sizeof m->logs[k].path, "%s", paths[k]);
  }
  return 1;
}

/* The member `name` names, its logs opened on its first record; NULL when it has no grant (its
 * records are dropped) or every slot is taken. */
static struct member *member_for(const char *name) {
  struct member *free_slot = NULL;
  for (int i = 0; i < POD_LOG_MEMBERS; i++) {
    if (members[i].used && !strcmp(members[i].id, name)) return &members[i];
    if (!members[i].used && !free_slot) free_slot = &members[i];
  }
  if (!free_slot) return NULL;
  struct member m = {.used = 1};
  snprintf(m.id, sizeof m.id, "%s", name);
  if (!read_grant(&m)) return NULL;
  for (int k = 0; k < 2; k++) kept_log_open(&m.logs[k]);
  *free_slot = m;
  return free_slot;
}

/* The member's last output is written: its logs close and its readers stop waiting. */
static void end_member(struct member *m) {
  char pid_file[PATH_MAX + 16];
  snprintf(pid_file, sizeof pid_file, "%s.keeper", m->logs[0].path);
  for (int k = 0; k < 2; k++) kept_log_close(&m->logs[k]);
  unlink_own_pid_file(pid_file);
  m->used = 0;
}

/* A record's header and id are in: checks them and picks where its data goes. */
static void start_record(void) {
  int kind = head[0], stream = head[1];
  left = (uint32_t)head[3] << 24 | (uint32_t)head[4] << 16 | (uint32_t)head[5] << 8 | head[6];
  id[id_len] = 0;
  if ((kind != POD_LOG_DATA && kind != POD_LOG_END) || (stream != 1 && stream != 2) ||
      left > POD_LOG_MAX_DATA || (kind == POD_LOG_END && left) || !valid_id(id)) {
    corrupt = 1;
    return;
  }
  target = member_for(id);
  stream_index = stream - 1;
  if (kind == POD_LOG_END && target) {
    end_member(target);
    target = NULL;
  }
}

void pod_logs_feed(const unsigned char *p, size_t n) {
  while (n > 0 && !corrupt) {
    if (head_len < POD_LOG_HEAD) {
      size_t take = POD_LOG_HEAD - head_len < n ? POD_LOG_HEAD - head_len : n;
      memcpy(head + head_len, p, take);
      head_len += take;
      p += take;
      n -= take;
      if (head_len < POD_LOG_HEAD) return;
      id_want = head[2];
      id_len = 0;
      if (id_want == 0 || id_want > POD_LOG_MAX_ID) { corrupt = 1; return; }
      continue;
    }
    if (id_len < id_want) {
      size_t take = id_want - id_len < n ? id_want - id_len : n;
      memcpy(id + id_len, p, take);
      id_len += take;
      p += take;
      n -= take;
      if (id_len < id_want) return;
      start_record();
      if (corrupt) return;
    }
    size_t take = left < n ? left : n;
    if (take && target) {
      kept_log_append(&target->logs[stream_index], (const char *)p, (long long)take);
    }
    left -= (uint32_t)take;
    p += take;
    n -= take;
    if (left == 0) head_len = 0; /* the next record */
  }
}

/* Removes the pid file of every granted member that named this keeper: the VM is gone, and
 * with it every member, ended or not, and whatever it had yet to write. */
void pod_logs_finish(void) {
  for (int i = 0; i < POD_LOG_MEMBERS; i++) if (members[i].used) end_member(&members[i]);
  DIR *dir = grants ? opendir(grants) : NULL;
  struct dirent *entry;
  while (dir && (entry = readdir(dir))) {
    if (!valid_id(entry->d_name) || strlen(entry->d_name) > POD_LOG_MAX_ID) continue;
    struct member m = {.used = 1};
    snprintf(m.id, sizeof m.id, "%s", entry->d_name);
    if (read_grant(&m)) end_member(&m);
  }
  if (dir) closedir(dir);
}
