/*
 * tcp-shift benchmark load generator: one thread, epoll, loopback only.
 *
 * Cheap on purpose: a Node loader used ~1.5x the CPU of this kind of loop on a 2-core box and
 * compressed the proxy ratios. Every reply is checked byte for byte against the tcp-echo
 * protocol (prefix + " " + line); any mismatch, reset, timeout or early EOF is an error.
 *
 * Modes (all bounded by --duration and/or --count, and a hard cap of 120 s):
 *   conn  closed loop: --concurrency C connections at a time; each connects, sends one line,
 *         reads and checks the reply, closes; repeat until --duration or --count.
 *   rate  open loop: start --rate R connections per second (same work as conn); latency is
 *         measured from the scheduled start, so a stalled proxy cannot hide its queueing.
 *   bulk  --concurrency C long-lived connections streaming --line-size byte lines with up to
 *         --window lines in flight; reports echoed MB/s. --interval-ms M paces each connection
 *         to one line per M ms (the shift check's long-lived streams). At the end (--duration or
 *         SIGTERM) every connection half-closes and must get every byte back before EOF.
 *   idle  open --count N connections, check one line each, print a "ready" JSON line, then hold
 *         them until stdin closes or gets a line (or --duration), then close and report.
 *
 * Sources: --source 127.x.y.z (repeatable) binds each new connection to the next source address
 * (IP_BIND_ADDRESS_NO_PORT: the port is still picked at connect time). Linux gives connect()
 * even ports first and, on loopback with tcp_tw_reuse=2, reuses a TIME_WAIT port after
 * tcp_tw_reuse_delay (1 s): about 14,100 new connections/s per (source, destination) pair with
 * the default port range. More sources give the generator more of that space.
 *
 * Output: one JSON object per line on stdout (idle prints a ready line first), with the
 * generator's own CPU seconds (cpuSec) so a phase bound by the generator can be told apart.
 * Exit status: 0 when there were no errors (or --allow-errors), 1 on errors, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchCommon.h"

#define MAX_TARGETS 16
#define MAX_SOURCES 16
#define HARD_CAP_SEC 120.0
#define SHORT_LINE_MAX 48
#define REPLY_MAX (SHORT_LINE_MAX + 8)
#define CONN_TIMEOUT_NS (10ull * 1000000000ull)

enum mode { MODE_CONN, MODE_RATE, MODE_BULK, MODE_IDLE };
enum state { ST_FREE, ST_CONNECTING, ST_READING, ST_IDLE, ST_BULK };

struct target {
  struct sockaddr_in addr;
  int weight;
  int current;     /* smooth weighted round robin state */
  int next_source; /* each target cycles through the sources on its own: even pairs */
};

struct conn {
  int state;
  int target;
  uint64_t start_ns; /* scheduled (rate) or actual (conn) start, for latency */
  uint64_t deadline_ns;
  char line[SHORT_LINE_MAX];
  int line_len;
  char reply[REPLY_MAX];
  int reply_len;
  /* bulk */
  struct reply_check echo;
  uint64_t sent_lines, recv_lines;
  size_t send_off; /* offset in the current outgoing line */
  int eof_sent;
  uint64_t next_send_ns; /* bulk with --interval-ms: earliest start of the next line */
};

static struct {
  enum mode mode;
  struct target targets[MAX_TARGETS];
  int ntargets;
  int concurrency;
  double rate;
  double duration;
  long count;
  int line_size;
  int window;
  int allow_errors;
  int max_inflight;
  struct sockaddr_in sources[MAX_SOURCES];
  int nsources;
  double interval_ms;
} opt = {MODE_CONN, {{{0}, 0, 0, 0}}, 0, 1, 1000.0, 2.0, 0, 16384, 4, 0, 20000, {{0}}, 0, 0.0};

static struct conn *conns;
static int conns_cap;
static int ep;
static uint64_t t_begin;

/* results */
static long done_ok, errors, started, by_prefix[3];
static char first_error[160];
static uint64_t *lat;
static long lat_len, lat_cap;
static uint64_t bulk_bytes, bulk_bytes_window;
/* bulk: payload bytes written, and payload bytes that came back checked (prefix excluded) */
static uint64_t payload_sent, payload_verified;
static long inflight;
static char *bulk_line;

static void record_error(const char *what, int fd) {
  errors++;
  /* a broken peer fails fast: no point hammering it for the rest of the phase */
  if (errors >= 100 && !opt.allow_errors) stop_flag = 1;
  if (!first_error[0]) {
    int e = errno;
    snprintf(first_error, sizeof first_error, "%s (fd %d, errno %d %s)", what, fd, e,
             e ? strerror(e) : "-");
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --mode conn|rate|bulk|idle --target 127.0.0.1:PORT[=WEIGHT]...\n"
          "  [--concurrency N] [--rate R] [--duration S] [--count N] [--line-size B]\n"
          "  [--window N] [--interval-ms M] [--source 127.x.y.z]... [--allow-errors]\n");
  exit(2);
}

/* `HOST:PORT` or `HOST:PORT=WEIGHT`, loopback only. */
static int parse_target(const char *s, struct target *t) {
  char *end;
  if (parse_host_port("loadgen", s, &t->addr, &end) < 0) return -1;
  t->weight = 1;
  if (*end == '=') t->weight = (int)strtol(end + 1, &end, 10);
  return *end || t->weight < 0 ? -1 : 0;
}

static int pick_target(void) {
  int total = 0, best = 0;
  for (int i = 0; i < opt.ntargets; i++) {
    opt.targets[i].current += opt.targets[i].weight;
    total += opt.targets[i].weight;
    if (opt.targets[i].current > opt.targets[best].current) best = i;
  }
  opt.targets[best].current -= total;
  return best;
}

static void conn_close(int fd) {
  if (conns[fd].state == ST_FREE) return;
  conns[fd].state = ST_FREE;
  close(fd); /* also removes it from the epoll set */
  inflight--;
}

static int start_conn(uint64_t start_ns) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    record_error("socket", -1);
    return -1;
  }
  if (fd >= conns_cap) {
    errno = EMFILE;
    record_error("fd above table size", fd);
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int target = pick_target();
  if (opt.nsources > 0) {
    struct target *t = &opt.targets[target];
    const struct sockaddr_in *src = &opt.sources[t->next_source];
    t->next_source = (t->next_source + 1) % opt.nsources;
    if (bind_source(fd, src) < 0) {
      record_error("bind source", fd);
      close(fd);
      return -1;
    }
  }
  struct conn *c = &conns[fd];
  c->target = target;
  c->start_ns = start_ns;
  c->deadline_ns = now_ns() + CONN_TIMEOUT_NS;
  c->reply_len = 0;
  c->echo = (struct reply_check){P_UNKNOWN, 0};
  c->sent_lines = c->recv_lines = 0;
  c->send_off = 0;
  c->eof_sent = 0;
  c->next_send_ns = 0;
  c->line_len = snprintf(c->line, sizeof c->line, "bench-%010ld\n", started);
  started++;
  inflight++;
  c->state = ST_CONNECTING;
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  int rc = connect(fd, (struct sockaddr *)&opt.targets[c->target].addr,
                   sizeof opt.targets[c->target].addr);
  if (rc < 0 && errno != EINPROGRESS) {
    record_error("connect", fd);
    conn_close(fd);
    return -1;
  }
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
    record_error("epoll_ctl add", fd);
    conn_close(fd);
    return -1;
  }
  return fd;
}

static void record_latency(uint64_t ns) {
  if (lat_len < lat_cap) lat[lat_len++] = ns;
}

/* Short-line connections: connected -> send line -> read reply -> check. */
static void short_writable(int fd) {
  struct conn *c = &conns[fd];
  if (connect_result(fd)) {
    record_error("connect failed", fd);
    conn_close(fd);
    return;
  }
  ssize_t n = send(fd, c->line, (size_t)c->line_len, MSG_NOSIGNAL);
  if (n != c->line_len) {
    record_error("send line", fd);
    conn_close(fd);
    return;
  }
  c->state = ST_READING;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Returns 1 when a whole, correct reply has arrived, 0 to wait, -1 on error (already closed). */
static int short_readable(int fd) {
  struct conn *c = &conns[fd];
  for (;;) {
    ssize_t n = read(fd, c->reply + c->reply_len, (size_t)(REPLY_MAX - c->reply_len));
    if (n < 0) {
      if (errno == EAGAIN) return 0;
      record_error("read reply", fd);
      conn_close(fd);
      return -1;
    }
    if (n == 0) {
      errno = 0;
      record_error("EOF before the whole reply", fd);
      conn_close(fd);
      return -1;
    }
    c->reply_len += (int)n;
    int want = 4 + c->line_len; /* "one " / "two " + line */
    if (c->reply_len < want) {
      if (c->reply_len == REPLY_MAX) break;
      continue;
    }
    if (c->reply_len > want) break;
    int p = 0;
    if (memcmp(c->reply, "one ", 4) == 0) p = 1;
    else if (memcmp(c->reply, "two ", 4) == 0) p = 2;
    if (!p || memcmp(c->reply + 4, c->line, (size_t)c->line_len) != 0) break;
    by_prefix[p]++;
    return 1;
  }
  errno = 0;
  record_error("reply is not prefix + ' ' + line", fd);
  conn_close(fd);
  return -1;
}

/* Paced (--interval-ms) and between lines: the next line may not start yet. */
static int bulk_paused(const struct conn *c, uint64_t now) {
  return opt.interval_ms > 0 && c->send_off == 0 && now < c->next_send_ns;
}

static void bulk_arm(int fd) {
  struct conn *c = &conns[fd];
  uint32_t events = EPOLLIN | EPOLLRDHUP;
  if (!c->eof_sent && c->sent_lines - c->recv_lines < (uint64_t)opt.window &&
      !bulk_paused(c, now_ns()))
    events |= EPOLLOUT;
  struct epoll_event ev = {.events = events, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void bulk_send(int fd, int sending) {
  struct conn *c = &conns[fd];
  while (sending && c->sent_lines - c->recv_lines < (uint64_t)opt.window) {
    if (bulk_paused(c, now_ns())) break;
    if (opt.interval_ms > 0 && c->send_off == 0)
      c->next_send_ns = next_due_ns(c->next_send_ns, now_ns(), (uint64_t)(opt.interval_ms * 1e6));
    size_t left = (size_t)opt.line_size - c->send_off;
    ssize_t n = send(fd, bulk_line + c->send_off, left, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) break;
      record_error("bulk send", fd);
      conn_close(fd);
      return;
    }
    c->send_off += (size_t)n;
    payload_sent += (uint64_t)n;
    if (c->send_off == (size_t)opt.line_size) {
      c->send_off = 0;
      c->sent_lines++;
    }
  }
  bulk_arm(fd);
}

/* Checks the echoed stream: per line "one "/"two " (same for the whole connection) + line. */
static int bulk_read(int fd, int measuring) {
  static char buf[65536];
  struct conn *c = &conns[fd];
  size_t reply_size = REPLY_PREFIX_LEN + (size_t)opt.line_size;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN) return 0;
      record_error("bulk read", fd);
      conn_close(fd);
      return -1;
    }
    if (n == 0) {
      if (c->eof_sent && c->recv_lines == c->sent_lines && c->echo.off == 0) return 1;
      errno = 0;
      record_error("bulk: EOF with replies missing", fd);
      conn_close(fd);
      return -1;
    }
    if (measuring) bulk_bytes_window += (uint64_t)n;
    bulk_bytes += (uint64_t)n;
    for (size_t i = 0; i < (size_t)n;) {
      long k = check_reply(&c->echo, bulk_line, (size_t)opt.line_size, buf + i, (size_t)n - i,
                           &payload_verified);
      if (k < 0) goto bad;
      i += (size_t)k;
      if (c->echo.off < reply_size) continue;
      c->echo.off = 0;
      if (++c->recv_lines > c->sent_lines) goto bad;
      if (c->recv_lines == 1) by_prefix[c->echo.prefix]++;
    }
  }
bad:
  errno = 0;
  record_error("bulk reply is not prefix + ' ' + line", fd);
  conn_close(fd);
  return -1;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(double p) {
  if (lat_len == 0) return 0;
  long i = (long)(p * (double)(lat_len - 1) + 0.5);
  return (double)lat[i] / 1000.0;
}

static void print_json(const char *phase, double elapsed, double measured) {
  qsort(lat, (size_t)lat_len, sizeof *lat, cmp_u64);
  double sum = 0;
  for (long i = 0; i < lat_len; i++) sum += (double)lat[i];
  printf("{\"phase\":\"%s\",\"ok\":%ld,\"errors\":%ld,\"firstError\":\"%s\",\"one\":%ld,"
         "\"two\":%ld,\"elapsedSec\":%.6f,\"connPerSec\":%.1f,\"latencyUs\":{\"count\":%ld,"
         "\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
         "\"bytes\":%llu,\"mbPerSec\":%.2f,\"sentBytes\":%llu,\"verifiedBytes\":%llu,"
         "\"cpuSec\":%.3f}\n",
         phase, done_ok, errors, first_error, by_prefix[1], by_prefix[2], elapsed,
         elapsed > 0 ? (double)done_ok / elapsed : 0.0, lat_len,
         lat_len ? sum / (double)lat_len / 1000.0 : 0.0, pct(0.5), pct(0.9), pct(0.99),
         pct(1.0), (unsigned long long)bulk_bytes,
         measured > 0 ? (double)bulk_bytes_window / measured / 1e6 : 0.0,
         (unsigned long long)payload_sent, (unsigned long long)payload_verified, cpu_seconds());
  fflush(stdout);
}

static void expire(uint64_t now) {
  for (int fd = 0; fd < conns_cap; fd++) {
    struct conn *c = &conns[fd];
    if ((c->state == ST_CONNECTING || c->state == ST_READING) && now > c->deadline_ns) {
      errno = ETIMEDOUT;
      record_error("no reply within 10 s", fd);
      conn_close(fd);
    }
  }
}

static int run_short(void) {
  uint64_t end_ns = t_begin + (uint64_t)(opt.duration * 1e9);
  uint64_t interval = opt.mode == MODE_RATE ? (uint64_t)(1e9 / opt.rate) : 0;
  uint64_t next_start = t_begin;
  uint64_t last_expire = t_begin;
  struct epoll_event evs[256];
  for (;;) {
    uint64_t now = now_ns();
    int more = now < end_ns && (opt.count == 0 || started < opt.count) && !stop_flag;
    if (more) {
      if (opt.mode == MODE_CONN) {
        while (inflight < opt.concurrency && (opt.count == 0 || started < opt.count))
          if (start_conn(now_ns()) < 0) break;
      } else {
        while (next_start <= now && (opt.count == 0 || started < opt.count) &&
               inflight < opt.max_inflight) {
          start_conn(next_start);
          next_start += interval;
        }
      }
    } else if (inflight == 0) {
      break;
    }
    if (now - last_expire > 100000000ull) {
      expire(now);
      last_expire = now;
    }
    if (now > end_ns + 15000000000ull) break; /* hard stop: 15 s after the end */
    int timeout = 50;
    if (more && opt.mode == MODE_RATE) {
      uint64_t t = now_ns();
      timeout = next_start > t ? (int)((next_start - t) / 1000000) : 0;
    }
    int n = epoll_wait(ep, evs, 256, timeout);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      struct conn *c = &conns[fd];
      if (c->state == ST_CONNECTING) {
        short_writable(fd);
      } else if (c->state == ST_READING) {
        if (short_readable(fd) == 1) {
          record_latency(now_ns() - c->start_ns);
          done_ok++;
          conn_close(fd);
          if (opt.mode == MODE_CONN && now_ns() < end_ns && !stop_flag &&
              (opt.count == 0 || started < opt.count))
            start_conn(now_ns());
        }
      }
    }
  }
  double elapsed = (double)(now_ns() - t_begin) / 1e9;
  for (int fd = 0; fd < conns_cap; fd++)
    if (conns[fd].state != ST_FREE) {
      errno = ETIMEDOUT;
      record_error("still open at hard stop", fd);
      conn_close(fd);
    }
  print_json(opt.mode == MODE_CONN ? "conn" : "rate", elapsed, 0);
  return 0;
}

static int run_bulk(void) {
  bulk_line = malloc((size_t)opt.line_size);
  for (int i = 0; i < opt.line_size - 1; i++) bulk_line[i] = (char)('a' + i % 26);
  bulk_line[opt.line_size - 1] = '\n';
  int *bulk_fds = calloc((size_t)opt.concurrency, sizeof *bulk_fds);
  int nbulk = 0;
  if (!bulk_fds) return 2;
  for (int i = 0; i < opt.concurrency; i++) {
    int fd = start_conn(now_ns());
    if (fd >= 0) bulk_fds[nbulk++] = fd;
  }
  /* Short warm-up: connections establish and the first lines go round before measuring. */
  uint64_t measure_from = t_begin + 200000000ull;
  uint64_t end_ns = t_begin + (uint64_t)(opt.duration * 1e9) + 200000000ull;
  uint64_t hard_end = end_ns + 5000000000ull;
  int finishing = 0, measuring = 0;
  uint64_t measured_ns = 0;
  struct epoll_event evs[64];
  while (inflight > 0) {
    uint64_t now = now_ns();
    if (!measuring && !finishing && now >= measure_from) {
      measuring = 1;
      measure_from = now;
    }
    if (!finishing && (now >= end_ns || stop_flag)) {
      finishing = 1;
      measuring = 0;
      measured_ns = now - measure_from;
      for (int fd = 0; fd < conns_cap; fd++) {
        struct conn *c = &conns[fd];
        if (c->state != ST_BULK) continue;
        /* finish the partly sent line, then half-close: the echo server closes after EOF */
        if (c->send_off) {
          ssize_t n = send(fd, bulk_line + c->send_off, (size_t)opt.line_size - c->send_off,
                           MSG_NOSIGNAL);
          if (n != (ssize_t)((size_t)opt.line_size - c->send_off)) {
            record_error("bulk finish line", fd);
            conn_close(fd);
            continue;
          }
          payload_sent += (uint64_t)n;
          c->send_off = 0;
          c->sent_lines++;
        }
        shutdown(fd, SHUT_WR);
        c->eof_sent = 1;
        bulk_arm(fd);
      }
    }
    if (now > hard_end) {
      for (int fd = 0; fd < conns_cap; fd++)
        if (conns[fd].state != ST_FREE) {
          errno = ETIMEDOUT;
          record_error("bulk drain timed out", fd);
          conn_close(fd);
        }
      break;
    }
    int n = epoll_wait(ep, evs, 64, opt.interval_ms > 0 ? 1 : 50);
    if (opt.interval_ms > 0 && !finishing) {
      /* paced streams: start the lines that are due (fds are only reused once closed) */
      uint64_t t = now_ns();
      for (int k = 0; k < nbulk; k++) {
        struct conn *c = &conns[bulk_fds[k]];
        if (c->state == ST_BULK && !c->eof_sent && c->send_off == 0 && t >= c->next_send_ns &&
            c->sent_lines - c->recv_lines < (uint64_t)opt.window)
          bulk_send(bulk_fds[k], 1);
      }
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      struct conn *c = &conns[fd];
      if (c->state == ST_CONNECTING) {
        if (connect_result(fd)) {
          record_error("bulk connect", fd);
          conn_close(fd);
          continue;
        }
        c->state = ST_BULK;
        bulk_send(fd, !finishing);
        continue;
      }
      if (c->state != ST_BULK) continue;
      if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        int r = bulk_read(fd, measuring);
        if (r < 0) continue;
        if (r == 1) {
          done_ok++;
          conn_close(fd);
          continue;
        }
      }
      if (!c->eof_sent) bulk_send(fd, 1);
      else bulk_arm(fd);
    }
  }
  free(bulk_fds);
  if (!measured_ns) measured_ns = now_ns() - measure_from;
  print_json("bulk", (double)(now_ns() - t_begin) / 1e9, (double)measured_ns / 1e9);
  return 0;
}

static int run_idle(void) {
  uint64_t hard_end = t_begin + (uint64_t)(opt.duration * 1e9);
  struct epoll_event evs[256];
  long opened = 0;
  int ready = 0;
  struct epoll_event sev = {.events = EPOLLIN, .data.fd = 0};
  for (;;) {
    uint64_t now = now_ns();
    if (now > hard_end || stop_flag) break;
    if (!ready) {
      while (started < opt.count && started - opened - errors < opt.concurrency)
        if (start_conn(now) < 0) break;
      if (opened + errors >= opt.count) {
        ready = 1;
        print_json("ready", (double)(now - t_begin) / 1e9, 0);
        if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) < 0) {
          record_error("watch stdin", 0);
          break;
        }
      }
    }
    int n = epoll_wait(ep, evs, 256, 100);
    int quit = 0;
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == 0) {
        quit = 1;
        continue;
      }
      struct conn *c = &conns[fd];
      if (c->state == ST_CONNECTING) {
        short_writable(fd);
      } else if (c->state == ST_READING) {
        int r = short_readable(fd);
        if (r == 1) {
          opened++;
          done_ok++;
          c->state = ST_IDLE;
          struct epoll_event ev = {.events = EPOLLRDHUP, .data.fd = fd};
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
      } else if (c->state == ST_IDLE) {
        errno = 0;
        record_error("idle connection closed by the peer", fd);
        conn_close(fd);
      }
    }
    if (quit) break;
    if (!ready && now - t_begin > 100000000ull) expire(now);
  }
  if (!ready) {
    errno = ETIMEDOUT;
    record_error("idle: not all connections opened in time", -1);
  }
  /* Final check: every connection that stayed open must still carry a line both ways. */
  done_ok = 0;
  by_prefix[1] = by_prefix[2] = 0;
  epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
  uint64_t check_end = now_ns() + CONN_TIMEOUT_NS;
  for (int fd = 1; fd < conns_cap; fd++) {
    struct conn *c = &conns[fd];
    if (c->state != ST_IDLE) continue;
    c->line_len = snprintf(c->line, sizeof c->line, "again-%010ld\n", started++);
    c->reply_len = 0;
    c->deadline_ns = check_end;
    if (send(fd, c->line, (size_t)c->line_len, MSG_NOSIGNAL) != c->line_len) {
      record_error("idle: final send", fd);
      conn_close(fd);
      continue;
    }
    c->state = ST_READING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
  }
  while (inflight > 0 && now_ns() < check_end + 100000000ull) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == 0 || conns[fd].state != ST_READING) continue;
      if (short_readable(fd) == 1) {
        done_ok++;
        conn_close(fd);
      }
    }
    expire(now_ns());
  }
  for (int fd = 1; fd < conns_cap; fd++)
    if (conns[fd].state != ST_FREE) conn_close(fd);
  print_json("idle", (double)(now_ns() - t_begin) / 1e9, 0);
  return 0;
}

static const char *arg(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) usage();
  return argv[++*i];
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--mode")) {
      const char *m = arg(argc, argv, &i);
      if (!strcmp(m, "conn")) opt.mode = MODE_CONN;
      else if (!strcmp(m, "rate")) opt.mode = MODE_RATE;
      else if (!strcmp(m, "bulk")) opt.mode = MODE_BULK;
      else if (!strcmp(m, "idle")) opt.mode = MODE_IDLE;
      else usage();
    } else if (!strcmp(a, "--target")) {
      if (opt.ntargets == MAX_TARGETS ||
          parse_target(arg(argc, argv, &i), &opt.targets[opt.ntargets]) < 0)
        usage();
      opt.ntargets++;
    } else if (!strcmp(a, "--concurrency")) opt.concurrency = atoi(arg(argc, argv, &i));
    else if (!strcmp(a, "--rate")) opt.rate = atof(arg(argc, argv, &i));
    else if (!strcmp(a, "--duration")) opt.duration = atof(arg(argc, argv, &i));
    else if (!strcmp(a, "--count")) opt.count = atol(arg(argc, argv, &i));
    else if (!strcmp(a, "--line-size")) opt.line_size = atoi(arg(argc, argv, &i));
    else if (!strcmp(a, "--window")) opt.window = atoi(arg(argc, argv, &i));
    else if (!strcmp(a, "--interval-ms")) opt.interval_ms = atof(arg(argc, argv, &i));
    else if (!strcmp(a, "--source")) {
      if (opt.nsources == MAX_SOURCES ||
          loopback_address("loadgen", arg(argc, argv, &i), &opt.sources[opt.nsources]) < 0)
        usage();
      opt.nsources++;
    } else if (!strcmp(a, "--allow-errors")) opt.allow_errors = 1;
    else usage();
  }
  if (opt.ntargets == 0 || opt.concurrency < 1 || opt.rate <= 0 || opt.duration <= 0 ||
      opt.line_size < 2 || opt.window < 1 || opt.count < 0 || opt.interval_ms < 0)
    usage();
  if (opt.duration > HARD_CAP_SEC) opt.duration = HARD_CAP_SEC;
  if (opt.mode == MODE_IDLE && opt.count == 0) usage();

  conns_cap = raise_open_files(1048576);
  conns = calloc((size_t)conns_cap, sizeof *conns);
  lat_cap = opt.mode == MODE_RATE ? (long)(opt.rate * opt.duration) + 16 : 4000000;
  if (opt.count && opt.count + 16 < lat_cap) lat_cap = opt.count + 16;
  lat = malloc((size_t)lat_cap * sizeof *lat);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (!conns || !lat || ep < 0) {
    perror("loadgen: setup");
    return 2;
  }
  stop_on_signals();
  t_begin = now_ns();
  switch (opt.mode) {
  case MODE_CONN:
  case MODE_RATE: run_short(); break;
  case MODE_BULK: run_bulk(); break;
  case MODE_IDLE: run_idle(); break;
  }
  return errors && !opt.allow_errors ? 1 : 0;
}
