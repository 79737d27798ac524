/*
 * What the agent's C files share. One static binary plays two roles: the guest agent inside a
 * box (agent.c) and, on the host, the namespace driver's launcher (launch.c).
 */
#ifndef A3S_AGENT_H
#define A3S_AGENT_H

#include <stddef.h>
#include <sys/types.h>

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

/* The host-side launcher of a namespace box; see launch.c. Never returns on success. */
int launch_main(int argc, char **argv);

#endif
