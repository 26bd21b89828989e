/* tunsink DEV: attaches to the tun device DEV (IFF_TUN, no packet info; created if missing, in the
 * caller's network namespace), prints "ready" on stderr, and reads and discards every packet
 * the device transmits until SIGTERM/SIGINT. A tun device has carrier only while a process holds
 * it, so this is what lets a test replay raw IP packets out of it (tcpreplay -i DEV) and capture
 * them there (libpcap link type RAW: the eBPF filter's raw-IP path). Prints the count on exit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = sig; }

int main(int argc, char** argv) {
  if (argc != 2 || strlen(argv[1]) >= IFNAMSIZ) {
    fprintf(stderr, "usage: tunsink DEV (a tun device name, at most %d bytes)\n", IFNAMSIZ - 1);
    return 2;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) { fprintf(stderr, "tunsink: /dev/net/tun: %s\n", strerror(errno)); return 1; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, argv[1], strlen(argv[1]));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { fprintf(stderr, "tunsink: TUNSETIFF %s: %s\n", argv[1], strerror(errno)); return 1; }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;  /* no SA_RESTART: read() returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  fprintf(stderr, "tunsink: %s ready\n", ifr.ifr_name);
  static unsigned char buf[65536];
  unsigned long packets = 0;
  while (!stop) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) packets++;
    else if (n < 0 && errno != EINTR) { fprintf(stderr, "tunsink: read: %s\n", strerror(errno)); return 1; }
  }
  fprintf(stderr, "tunsink: %lu packets\n", packets);
  return 0;
}
