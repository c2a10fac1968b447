/*
 * What the bench's C programs (loadgen.c, echo.c, drainClient.c) share: a stop flag that
 * SIGINT and SIGTERM set, a monotonic clock, the open-files limit raised to its hard limit, and
 * loopback-only IPv4 addresses (these programs never load anything off the machine).
 */
#ifndef TCP_SHIFT_BENCH_COMMON_H
#define TCP_SHIFT_BENCH_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

/* Set by SIGINT or SIGTERM once `stop_on_signals` ran: the main loop ends its run. */
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

/* SIGINT and SIGTERM set `stop_flag`; a write to a closed peer is an error, not a SIGPIPE. */
static inline void stop_on_signals(void) {
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
}

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Raise the open-files limit to the hard limit; returns how many descriptors, at most `cap`. */
static inline int raise_open_files(int cap) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  return (int)(rl.rlim_cur > (rlim_t)cap ? (rlim_t)cap : rl.rlim_cur);
}

/* The outcome of a non-blocking connect that epoll reported: 0, or its error (errno set too). */
static inline int connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  errno = err;
  return err;
}

/*
 * `host` as an IPv4 address in `a` (port 0): -1 when it is not one. An address outside
 * 127.0.0.0/8 stops the program (exit 2) with a line naming `program` and `host`.
 */
static inline int loopback_address(const char *program, const char *host, struct sockaddr_in *a) {
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return -1;
  if ((ntohl(a->sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "%s: refusing non-loopback address %s\n", program, host);
    exit(2);
  }
  return 0;
}

/*
 * `HOST:PORT` followed by anything (`*rest` points there): the address in `a` (loopback only,
 * see `loopback_address`) with the port set; -1 when malformed.
 */
static inline int parse_host_port(const char *program, const char *s, struct sockaddr_in *a,
                                  char **rest) {
  char host[64];
  const char *colon = strrchr(s, ':');
  if (!colon || colon - s >= (long)sizeof host) return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = 0;
  long port = strtol(colon + 1, rest, 10);
  if (port < 1 || port > 65535 || loopback_address(program, host, a) < 0) return -1;
  a->sin_port = htons((uint16_t)port);
  return 0;
}

#endif
