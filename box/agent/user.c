/*
 * User lookup inside a box. The agent reads the box's own /etc/passwd and /etc/group (the image's,
 * as the box changed them), never the host's, and without NSS: a static binary cannot load NSS
 * modules, and a box's users are whatever its files say.
 */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Splits one colon-separated line into at most `max` fields in place; returns the count. */
static int split_fields(char *line, char **fields, int max) {
  int n = 0;
  line[strcspn(line, "\n")] = 0;
  fields[n++] = line;
  for (char *p = line; *p && n < max; p++) {
    if (*p == ':') { *p = 0; fields[n++] = p + 1; }
  }
  return n;
}

static int parse_id(const char *text, unsigned *out) {
  if (!*text) return -1;
  char *end;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (*end || errno || value > 0xffffffffUL) return -1;
  *out = (unsigned)value;
  return 0;
}

/* Finds the passwd entry whose name is `name` (or, when `name` is NULL, whose uid is `uid`). */
static int find_passwd(const char *name, uid_t uid, struct box_user *out, char *user_name,
                       size_t name_len) {
  FILE *f = fopen("/etc/passwd", "re");
  if (!f) return -1;
  char line[1024];
  char *fields[7];
  int found = -1;
  while (fgets(line, sizeof line, f)) {
    if (split_fields(line, fields, 7) < 7) continue;
    unsigned entry_uid, entry_gid;
    if (parse_id(fields[2], &entry_uid) || parse_id(fields[3], &entry_gid)) continue;
    if (name ? strcmp(fields[0], name) != 0 : entry_uid != uid) continue;
    out->uid = entry_uid;
    out->gid = entry_gid;
    snprintf(out->home, sizeof out->home, "%s", fields[5][0] ? fields[5] : "/");
    snprintf(user_name, name_len, "%s", fields[0]);
    found = 0;
    break;
  }
  fclose(f);
  return found;
}

/* Looks up a group by name (resolving its gid) and collects the groups listing `member`. */
static int scan_groups(const char *group_name, gid_t *group_gid, const char *member,
                       struct box_user *out) {
  FILE *f = fopen("/etc/group", "re");
  if (!f) return group_name ? -1 : 0;
  char line[4096];
  char *fields[4];
  int found = group_name ? -1 : 0;
  while (fgets(line, sizeof line, f)) {
    if (split_fields(line, fields, 4) < 4) continue;
    unsigned gid;
    if (parse_id(fields[2], &gid)) continue;
    if (group_name && strcmp(fields[0], group_name) == 0) { *group_gid = gid; found = 0; }
    if (!member || !*member) continue;
    for (char *m = strtok(fields[3], ","); m; m = strtok(NULL, ",")) {
      if (strcmp(m, member) != 0) continue;
      int seen = 0;
      for (int i = 0; i < out->ngroups; i++) seen |= out->groups[i] == gid;
      if (!seen && out->ngroups < BOX_USER_MAX_GROUPS) out->groups[out->ngroups++] = gid;
    }
  }
  fclose(f);
  return found;
}

int resolve_user(const char *spec, struct box_user *out, char *err, size_t errlen) {
  char user_part[256], name[256] = "";
  const char *group_part = strchr(spec, ':');
  size_t user_len = group_part ? (size_t)(group_part - spec) : strlen(spec);
  if (user_len == 0 || user_len >= sizeof user_part || (group_part && !group_part[1])) {
    snprintf(err, errlen, "invalid user '%s'", spec);
    return -1;
  }
  memcpy(user_part, spec, user_len);
  user_part[user_len] = 0;
  memset(out, 0, sizeof *out);
  snprintf(out->home, sizeof out->home, "/");
  unsigned id;
  if (parse_id(user_part, &id) == 0) {
    /* A bare uid need not exist in passwd (as in Docker); its group is then 0. */
    if (find_passwd(NULL, id, out, name, sizeof name) != 0) out->uid = id;
  } else if (find_passwd(user_part, 0, out, name, sizeof name) != 0) {
    snprintf(err, errlen, "unable to find user %s: no matching entries in passwd file", user_part);
    return -1;
  }
  gid_t gid = out->gid;
  if (group_part) {
    const char *group = group_part + 1;
    if (parse_id(group, &id) == 0) {
      gid = id;
    } else if (scan_groups(group, &gid, NULL, out) != 0) {
      snprintf(err, errlen, "unable to find group %s: no matching entries in group file", group);
      return -1;
    }
  }
  out->gid = gid;
  out->groups[out->ngroups++] = gid;
  scan_groups(NULL, NULL, name, out);
  return 0;
}

int become_user(const struct box_user *user) {
  /* A user namespace that denies setgroups (bubblewrap's own single-id map) still lets a process
   * stay who it is; anyone else would keep the caller's groups, so that is an error. */
  if (setgroups((size_t)user->ngroups, user->groups) &&
      !(errno == EPERM && user->uid == getuid() && user->gid == getgid())) return -1;
  if (setgid(user->gid) || setuid(user->uid)) return -1;
  return 0;
}
