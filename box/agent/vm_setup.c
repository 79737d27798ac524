/*
 * What a VM box needs beyond the agent's own init: the host directories shared over virtio-9p
 * mounted where the box expects them, and, when the box has a network card (QEMU's user-mode
 * network), the addresses QEMU's built-in DHCP would hand out, set directly so no DHCP client
 * has to be in the image.
 *
 * /a3s/mounts: NUL-separated triples `tag`, `guest path`, `ro` or `rw`.
 * /a3s/net:    present when the box has a card; its text is the resolver to use, if any.
 * /a3s/hostname: the box's hostname (a pod's, shared by its containers).
 */
#define _GNU_SOURCE
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* QEMU's user-mode network: the guest's address, its gateway (the host), and the netmask. */
#define GUEST_ADDR "10.0.2.15"
#define GATEWAY_ADDR "10.0.2.2"
#define NETMASK "255.255.255.0"

static char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *data = malloc(65536);
  ssize_t n = data ? read(fd, data, 65535) : -1;
  close(fd);
  if (n < 0) { free(data); return NULL; }
  data[n] = 0;
  *len = (size_t)n;
  return data;
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

void vm_mount_volumes(void) {
  size_t len = 0;
  char *data = read_file("/a3s/mounts", &len);
  if (!data) return;
  const char *field[3];
  int k = 0;
  for (size_t i = 0; i < len; i += strlen(data + i) + 1) {
    field[k++] = data + i;
    if (k < 3) continue;
    k = 0;
    mkdirs(field[1]);
    unsigned long flags = strcmp(field[2], "ro") == 0 ? MS_RDONLY : 0;
    /* cache=none: the host may change the files at any time, so never serve stale pages. */
    if (mount(field[0], field[1], "9p", flags, "trans=virtio,version=9p2000.L,msize=262144,cache=none"))
      dprintf(2, "a3s-agent: mount %s on %s: %s\n", field[0], field[1], strerror(errno));
  }
  free(data);
}

static int set_addr(int s, const char *ifname, unsigned long request, const char *addr) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  inet_pton(AF_INET, addr, &sin->sin_addr);
  return ioctl(s, request, &ifr);
}

static int bring_up(int s, const char *ifname) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  if (ioctl(s, SIOCGIFFLAGS, &ifr)) return -1;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ioctl(s, SIOCSIFFLAGS, &ifr);
}

void vm_configure_network(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  /* Loopback always: programs in a box without a card still talk to themselves. */
  bring_up(s, "lo");
  size_t len = 0;
  char *resolver = read_file("/a3s/net", &len);
  if (!resolver) { close(s); return; }
  if (set_addr(s, "eth0", SIOCSIFADDR, GUEST_ADDR) || set_addr(s, "eth0", SIOCSIFNETMASK, NETMASK) ||
      bring_up(s, "eth0")) {
    dprintf(2, "a3s-agent: configure eth0: %s\n", strerror(errno));
  } else {
    struct rtentry route;
    memset(&route, 0, sizeof route);
    struct sockaddr_in *gw = (struct sockaddr_in *)&route.rt_gateway;
    gw->sin_family = AF_INET;
    inet_pton(AF_INET, GATEWAY_ADDR, &gw->sin_addr);
    ((struct sockaddr_in *)&route.rt_dst)->sin_family = AF_INET;
    ((struct sockaddr_in *)&route.rt_genmask)->sin_family = AF_INET;
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    if (ioctl(s, SIOCADDRT, &route) && errno != EEXIST)
      dprintf(2, "a3s-agent: default route: %s\n", strerror(errno));
  }
  if (len > 0) {
    mkdir("/etc", 0755);
    int fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) { dprintf(fd, "nameserver %s\n", resolver); close(fd); }
  }
  free(resolver);
  close(s);
}

void vm_set_hostname(void) {
  size_t len = 0;
  char *name = read_file("/a3s/hostname", &len);
  if (!name) return;
  size_t n = strnlen(name, len);
  if (n > 0 && sethostname(name, n)) dprintf(2, "a3s-agent: sethostname: %s\n", strerror(errno));
  free(name);
}
