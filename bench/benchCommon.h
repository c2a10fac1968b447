/*
 * What the bench's C programs (loadgen.c, echo.c, drainClient.c) share: a stop flag that
 * SIGINT and SIGTERM set, the clocks, the open-files limit raised to its hard limit, loopback-only
 * IPv4 addresses (these programs never load anything off the machine), source binding, the pace
 * of a stream and the check of the tcp-echo replies it gets back.
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

/* Epoch milliseconds (CLOCK_REALTIME): the times the drain check lines up across processes. */
static inline double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* This process's CPU time so far, user + system, seconds. */
static inline double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
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

/*
 * Bind `fd` to source address `src` before connect(). IP_BIND_ADDRESS_NO_PORT: the port is
 * chosen by connect() for the whole 4-tuple, not reserved by bind(). 0, or -1 (errno set).
 */
static inline int bind_source(int fd, const struct sockaddr_in *src) {
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  return bind(fd, (const struct sockaddr *)src, sizeof *src);
}

/*
 * A paced stream's next line is due `step_ns` after the previous one was; after a stall, `step_ns`
 * from now (no burst to catch up). `prev_ns` 0: the first line.
 */
static inline uint64_t next_due_ns(uint64_t prev_ns, uint64_t now, uint64_t step_ns) {
  return prev_ns && prev_ns + step_ns > now ? prev_ns + step_ns : now + step_ns;
}

/* The version that answered a connection, by the prefix of its replies. */
enum prefix { P_UNKNOWN, P_ONE, P_TWO };

/* The echo check's state on one connection. */
struct reply_check {
  int prefix;  /* enum prefix: fixed by the first byte of the first reply */
  size_t off;  /* bytes of the current reply seen: "one " / "two " (4), then the line */
};

#define REPLY_PREFIX_LEN 4

/*
 * Check echoed bytes `buf[0..n)` against the current reply: PREFIX + " " + `line` (`len` bytes),
 * PREFIX "one" or "two" and the same for the whole connection; the prefix may be split across
 * reads. Consumes at most up to the end of the current reply, which is complete once
 * `r->off == REPLY_PREFIX_LEN + len` (the caller counts it and sets `off` back to 0).
 * Returns the bytes consumed, or -1 on a mismatch; `*line_bytes` grows by the line bytes checked.
 */
static inline long check_reply(struct reply_check *r, const char *line, size_t len,
                               const char *buf, size_t n, uint64_t *line_bytes) {
  size_t i = 0;
  for (; i < n && r->off < REPLY_PREFIX_LEN; i++, r->off++) {
    if (r->prefix == P_UNKNOWN) {
      if (buf[i] == 'o') r->prefix = P_ONE;
      else if (buf[i] == 't') r->prefix = P_TWO;
      else return -1;
    }
    if (buf[i] != (r->prefix == P_ONE ? "one " : "two ")[r->off]) return -1;
  }
  if (r->off < REPLY_PREFIX_LEN) return (long)i;
  size_t take = REPLY_PREFIX_LEN + len - r->off;
  if (take > n - i) take = n - i;
  if (memcmp(buf + i, line + (r->off - REPLY_PREFIX_LEN), take) != 0) return -1;
  r->off += take;
  *line_bytes += take;
  return (long)(i + take);
}

#endif
