/*
 * Drain-check client (`npm run bench -- --drain-check`): long-lived paced streams through the
 * gateway, every echoed byte checked, and one JSON line per connection as it ends, so the
 * harness sees when a drain closed each connection, how cleanly, and what was still unanswered.
 *
 *   drainclient --target 127.0.0.1:PORT --connections N [--source 127.x.y.z]...
 *     [--line-size B] [--interval-ms M] [--window W] [--reconnect] [--duration S]
 *     [--clean-wait-ms MS]
 *
 * Lines: "c<id>.<gen> <seq> abcd...\n" of B bytes (default 1024), so the echo's per-connection
 * report (`echo --report`) names the connection. Each connection writes one line every M ms
 * (default 20) with at most W (default 4) unanswered, and checks every reply byte for byte:
 * PREFIX + " " + line, the same prefix for the whole connection.
 *
 * A FIN from the gateway before this client half-closed is a drain ("drained"): the client
 * stops writing, notes what is still unanswered (lines, the partly written line, the age of the
 * oldest unanswered line), sends its own FIN, and after --clean-wait-ms (default 300) reads
 * SO_ERROR: a reset in that time means the close was not clean. With --reconnect it then opens a
 * new connection under the same id (gen + 1), as a client that reconnects would.
 * At SIGTERM or --duration every open stream finishes its line, half-closes and must get every
 * byte back before the EOF ("end").
 *
 * Output, one JSON object per line on stdout (times: epoch ms, CLOCK_REALTIME):
 *   {"event":"ready",...}   every first connection has had its first reply
 *   {"event":"open",...}    a later connection (a reconnect) got its first reply
 *   {"event":"fin",...}     the gateway's FIN arrived (printed at once: the harness counts them)
 *   {"event":"close",...}   a connection ended: kind drained|end|reset|error|mismatch, figures
 *   {"event":"summary",...} last line
 * Exit status: 0, or 2 on bad usage. Loopback only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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

#define MAX_SOURCES 16
#define MAX_WINDOW 64
#define HARD_CAP_SEC 120.0
#define CONNECT_TIMEOUT_NS (10ull * 1000000000ull)
#define FINISH_TIMEOUT_NS (10ull * 1000000000ull)

enum state { ST_FREE, ST_CONNECTING, ST_STREAM, ST_FINISHING, ST_CLOSING };
static const char *const PREFIX_NAME[] = {"", "one", "two"};

struct conn {
  int state;
  uint32_t events; /* registered with epoll */
  int id, gen;
  struct reply_check reply;
  double open_ms, first_reply_ms, fin_ms;
  uint64_t deadline_ns;
  uint64_t sent_lines, recv_lines;
  size_t send_off;
  uint64_t next_send_ns;
  uint64_t sent_bytes, verified_bytes;
  char *send_line, *expect_line;
  /* send start of unanswered lines, by seq % (window + 1) */
  double sent_at_ms[MAX_WINDOW + 1];
  /* drained: what was unanswered when the FIN came */
  uint64_t unechoed_lines;
  size_t partial_line_bytes;
  double oldest_unechoed_age_ms;
  /* ... and when each of those lines (the partly written one last) started to be written */
  double in_flight_ms[MAX_WINDOW + 1];
  int in_flight;
};

static struct {
  struct sockaddr_in target;
  struct sockaddr_in sources[MAX_SOURCES];
  int nsources;
  int connections;
  int line_size;
  double interval_ms;
  int window;
  int reconnect;
  double duration;
  double clean_wait_ms;
} opt = {{0}, {{0}}, 0, 0, 1024, 20.0, 4, 0, 110.0, 300.0};

static struct conn *conns;
static int conns_cap;
static int max_fd;
static int ep;
static int next_source;
static long opened_total, closed_total, problems, ready_count, initial_failed;
static uint64_t total_sent, total_verified;

static void usage(void) {
  fprintf(stderr,
          "usage: drainclient --target 127.0.0.1:PORT --connections N [--source 127.x.y.z]...\n"
          "  [--line-size B] [--interval-ms M] [--window W] [--reconnect] [--duration S]\n"
          "  [--clean-wait-ms MS]\n");
  exit(2);
}

static int parse_target(const char *s) {
  char *end;
  return parse_host_port("drainclient", s, &opt.target, &end) < 0 || *end ? -1 : 0;
}

/* Line `seq` of connection id.gen: a header that names it, filler, '\n'. */
static void make_line(char *buf, int id, int gen, uint64_t seq) {
  int n = snprintf(buf, (size_t)opt.line_size, "c%05d.%d %010llu ", id, gen,
                   (unsigned long long)seq);
  for (int i = n; i < opt.line_size - 1; i++) buf[i] = (char)('a' + i % 26);
  buf[opt.line_size - 1] = '\n';
}

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++)
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if ((unsigned char)*s >= 0x20) putchar(*s);
  putchar('"');
}

static void print_close(const struct conn *c, const char *kind, const char *detail,
                        const char *after_fin, double close_ms) {
  printf("{\"event\":\"close\",\"id\":%d,\"gen\":%d,\"prefix\":\"%s\",\"kind\":\"%s\",\"detail\":",
         c->id, c->gen, PREFIX_NAME[c->reply.prefix], kind);
  json_string(detail);
  printf(",\"openMs\":%.3f,\"firstReplyMs\":%.3f,\"finMs\":%.3f,\"closeMs\":%.3f,"
         "\"sentBytes\":%llu,\"verifiedBytes\":%llu,\"sentLines\":%llu,\"echoedLines\":%llu,"
         "\"unechoedLines\":%llu,\"partialLineBytes\":%zu,\"oldestUnechoedAgeMs\":%.3f,"
         "\"afterFin\":\"%s\",\"inFlightSentMs\":[",
         c->open_ms, c->first_reply_ms, c->fin_ms, close_ms, (unsigned long long)c->sent_bytes,
         (unsigned long long)c->verified_bytes, (unsigned long long)c->sent_lines,
         (unsigned long long)c->recv_lines, (unsigned long long)c->unechoed_lines,
         c->partial_line_bytes, c->oldest_unechoed_age_ms, after_fin);
  for (int i = 0; i < c->in_flight; i++) printf("%s%.3f", i ? "," : "", c->in_flight_ms[i]);
  printf("]}\n");
  fflush(stdout);
}

static void release(int fd) {
  struct conn *c = &conns[fd];
  total_sent += c->sent_bytes;
  total_verified += c->verified_bytes;
  free(c->send_line);
  free(c->expect_line);
  memset(c, 0, sizeof *c);
  close(fd); /* also leaves the epoll set */
  closed_total++;
}

/* End a connection that failed: reset, error or a wrong reply. */
static void fail(int fd, const char *kind, const char *what) {
  struct conn *c = &conns[fd];
  char detail[160];
  int e = errno;
  snprintf(detail, sizeof detail, "%s (errno %d %s)", what, e, e ? strerror(e) : "-");
  if (c->first_reply_ms == 0 && c->gen == 0) initial_failed++;
  problems++;
  print_close(c, kind, detail, "-", wall_ms());
  release(fd);
}

static int start_conn(int id, int gen) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || fd >= conns_cap) {
    if (fd >= 0) close(fd);
    fprintf(stderr, "drainclient: socket: %s\n", strerror(errno));
    problems++;
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (opt.nsources > 0) {
    const struct sockaddr_in *src = &opt.sources[next_source];
    next_source = (next_source + 1) % opt.nsources;
    if (bind_source(fd, src) < 0) {
      fprintf(stderr, "drainclient: bind: %s\n", strerror(errno));
      close(fd);
      problems++;
      return -1;
    }
  }
  struct conn *c = &conns[fd];
  memset(c, 0, sizeof *c);
  c->id = id;
  c->gen = gen;
  c->open_ms = wall_ms();
  c->deadline_ns = now_ns() + CONNECT_TIMEOUT_NS;
  c->send_line = malloc((size_t)opt.line_size);
  c->expect_line = malloc((size_t)opt.line_size);
  c->state = ST_CONNECTING;
  if (fd > max_fd) max_fd = fd;
  opened_total++;
  int rc = connect(fd, (struct sockaddr *)&opt.target, sizeof opt.target);
  c->events = EPOLLOUT;
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  if (!c->send_line || !c->expect_line || (rc < 0 && errno != EINPROGRESS) ||
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
    fail(fd, "error", "connect");
    return -1;
  }
  return fd;
}

static int window_full(const struct conn *c) {
  return c->sent_lines - c->recv_lines >= (uint64_t)opt.window;
}

static void arm(int fd) {
  struct conn *c = &conns[fd];
  uint32_t events = EPOLLIN | EPOLLRDHUP;
  /* writable interest only while a line is partly written (the rest is paced by the loop) */
  if (c->state == ST_STREAM && c->send_off > 0) events |= EPOLLOUT;
  if (events == c->events) return;
  c->events = events;
  struct epoll_event ev = {.events = events, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Write the current line (or start the next one when it is due). 0 ok, -1 closed. */
static int stream_send(int fd, uint64_t now) {
  struct conn *c = &conns[fd];
  for (;;) {
    if (c->send_off == 0) {
      if (window_full(c) || now < c->next_send_ns) break;
      c->next_send_ns = next_due_ns(c->next_send_ns, now, (uint64_t)(opt.interval_ms * 1e6));
      make_line(c->send_line, c->id, c->gen, c->sent_lines);
      c->sent_at_ms[c->sent_lines % (uint64_t)(opt.window + 1)] = wall_ms();
    }
    size_t left = (size_t)opt.line_size - c->send_off;
    ssize_t n = send(fd, c->send_line + c->send_off, left, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) break;
      fail(fd, errno == ECONNRESET || errno == EPIPE ? "reset" : "error", "send");
      return -1;
    }
    c->send_off += (size_t)n;
    c->sent_bytes += (uint64_t)n;
    if (c->send_off < (size_t)opt.line_size) break;
    c->send_off = 0;
    c->sent_lines++;
    if (opt.interval_ms > 0) break;
  }
  arm(fd);
  return 0;
}

/* The gateway's FIN arrived while streaming: a drain. Note what is unanswered, send our FIN. */
static void drained(int fd) {
  struct conn *c = &conns[fd];
  c->fin_ms = wall_ms();
  if (c->reply.off != 0) {
    errno = 0;
    fail(fd, "mismatch", "FIN inside a reply");
    return;
  }
  c->unechoed_lines = c->sent_lines - c->recv_lines;
  c->partial_line_bytes = c->send_off;
  uint64_t last = c->sent_lines + (c->send_off > 0 ? 1 : 0);
  for (uint64_t seq = c->recv_lines; seq < last; seq++)
    c->in_flight_ms[c->in_flight++] = c->sent_at_ms[seq % (uint64_t)(opt.window + 1)];
  if (c->in_flight > 0) c->oldest_unechoed_age_ms = c->fin_ms - c->in_flight_ms[0];
  printf("{\"event\":\"fin\",\"id\":%d,\"gen\":%d,\"prefix\":\"%s\",\"t\":%.3f}\n", c->id, c->gen,
         PREFIX_NAME[c->reply.prefix], c->fin_ms);
  fflush(stdout);
  shutdown(fd, SHUT_WR);
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  c->state = ST_CLOSING;
  c->deadline_ns = now_ns() + (uint64_t)(opt.clean_wait_ms * 1e6);
  if (opt.reconnect && !stop_flag) start_conn(c->id, c->gen + 1);
}

/* After our FIN: a reset in the wait means the close was not clean. */
static void closing_done(int fd) {
  struct conn *c = &conns[fd];
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  char after[64];
  if (err) {
    snprintf(after, sizeof after, "reset: %s", strerror(err));
    problems++;
  } else
    snprintf(after, sizeof after, "clean");
  print_close(c, "drained", "", after, wall_ms());
  release(fd);
}

/* Replies: per line PREFIX + " " + line. 1: the clean end after our FIN, 0: wait, -1: closed. */
static int stream_read(int fd) {
  static char buf[65536];
  struct conn *c = &conns[fd];
  size_t reply_size = REPLY_PREFIX_LEN + (size_t)opt.line_size;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN) return 0;
      fail(fd, errno == ECONNRESET ? "reset" : "error", "read");
      return -1;
    }
    if (n == 0) {
      if (c->state == ST_FINISHING) {
        if (c->recv_lines == c->sent_lines && c->reply.off == 0) return 1;
        errno = 0;
        fail(fd, "error", "EOF with replies missing after our FIN");
        return -1;
      }
      drained(fd);
      return -1;
    }
    for (size_t i = 0; i < (size_t)n;) {
      if (c->reply.off == 0) {
        if (c->recv_lines >= c->sent_lines) goto bad;
        make_line(c->expect_line, c->id, c->gen, c->recv_lines);
      }
      long k = check_reply(&c->reply, c->expect_line, (size_t)opt.line_size, buf + i,
                           (size_t)n - i, &c->verified_bytes);
      if (k < 0) goto bad;
      i += (size_t)k;
      if (c->reply.off < reply_size) continue;
      c->reply.off = 0;
      c->recv_lines++;
      if (c->first_reply_ms != 0) continue;
      c->first_reply_ms = wall_ms();
      if (c->gen == 0) ready_count++;
      else {
        printf("{\"event\":\"open\",\"id\":%d,\"gen\":%d,\"prefix\":\"%s\",\"t\":%.3f}\n", c->id,
               c->gen, PREFIX_NAME[c->reply.prefix], c->first_reply_ms);
        fflush(stdout);
      }
    }
  }
bad:
  errno = 0;
  fail(fd, "mismatch", "reply is not prefix + ' ' + line");
  return -1;
}

/* Stop writing: finish the partly written line, then half-close. */
static void finish(int fd) {
  struct conn *c = &conns[fd];
  if (c->send_off > 0) {
    size_t left = (size_t)opt.line_size - c->send_off;
    ssize_t n = send(fd, c->send_line + c->send_off, left, MSG_NOSIGNAL);
    if (n != (ssize_t)left) {
      fail(fd, "error", "finishing the last line");
      return;
    }
    c->sent_bytes += (uint64_t)n;
    c->send_off = 0;
    c->sent_lines++;
  }
  shutdown(fd, SHUT_WR);
  c->state = ST_FINISHING;
  c->deadline_ns = now_ns() + FINISH_TIMEOUT_NS;
  arm(fd);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--reconnect")) {
      opt.reconnect = 1;
      continue;
    }
    if (!v) usage();
    i++;
    if (!strcmp(a, "--target")) {
      if (parse_target(v) < 0) usage();
    } else if (!strcmp(a, "--source")) {
      if (opt.nsources == MAX_SOURCES ||
          loopback_address("drainclient", v, &opt.sources[opt.nsources]) < 0)
        usage();
      opt.nsources++;
    } else if (!strcmp(a, "--connections")) opt.connections = atoi(v);
    else if (!strcmp(a, "--line-size")) opt.line_size = atoi(v);
    else if (!strcmp(a, "--interval-ms")) opt.interval_ms = atof(v);
    else if (!strcmp(a, "--window")) opt.window = atoi(v);
    else if (!strcmp(a, "--duration")) opt.duration = atof(v);
    else if (!strcmp(a, "--clean-wait-ms")) opt.clean_wait_ms = atof(v);
    else usage();
  }
  if (opt.target.sin_port == 0 || opt.connections < 1 || opt.line_size < 32 || opt.window < 1 ||
      opt.window > MAX_WINDOW || opt.interval_ms < 0 || opt.duration <= 0 ||
      opt.clean_wait_ms < 0)
    usage();
  if (opt.duration > HARD_CAP_SEC) opt.duration = HARD_CAP_SEC;

  conns_cap = raise_open_files(65536);
  conns = calloc((size_t)conns_cap, sizeof *conns);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (!conns || ep < 0) {
    perror("drainclient: setup");
    return 2;
  }
  stop_on_signals();

  uint64_t begin = now_ns();
  uint64_t end_ns = begin + (uint64_t)(opt.duration * 1e9);
  for (int id = 0; id < opt.connections; id++) start_conn(id, 0);
  int ready_printed = 0, finishing = 0;
  struct epoll_event evs[256];
  for (;;) {
    uint64_t now = now_ns();
    if (!ready_printed && ready_count + initial_failed >= opt.connections) {
      ready_printed = 1;
      printf("{\"event\":\"ready\",\"connections\":%ld,\"failed\":%ld,\"t\":%.3f}\n", ready_count,
             initial_failed, wall_ms());
      fflush(stdout);
    }
    if (!finishing && (stop_flag || now >= end_ns)) {
      finishing = 1;
      stop_flag = 1;
      for (int fd = 0; fd <= max_fd; fd++)
        if (conns[fd].state == ST_STREAM) finish(fd);
    }
    int open = 0;
    for (int fd = 0; fd <= max_fd; fd++) {
      struct conn *c = &conns[fd];
      if (c->state == ST_FREE) continue;
      open++;
      if (c->state == ST_CLOSING) {
        if (now >= c->deadline_ns) closing_done(fd);
      } else if ((c->state == ST_CONNECTING || c->state == ST_FINISHING) && now >= c->deadline_ns) {
        errno = ETIMEDOUT;
        fail(fd, "error", c->state == ST_CONNECTING ? "connect timed out" : "end timed out");
      } else if (c->state == ST_STREAM && !finishing && c->send_off == 0)
        stream_send(fd, now);
    }
    if (finishing && open == 0) break;
    int n = epoll_wait(ep, evs, 256, 1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      struct conn *c = &conns[fd];
      if (c->state == ST_CONNECTING) {
        int err = connect_result(fd);
        if (err) {
          fail(fd, err == ECONNRESET ? "reset" : "error", "connect");
          continue;
        }
        c->state = ST_STREAM;
        if (finishing) finish(fd);
        else stream_send(fd, now_ns());
        continue;
      }
      if (c->state != ST_STREAM && c->state != ST_FINISHING) continue;
      if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        int r = stream_read(fd);
        if (r < 0) continue;
        if (r == 1) {
          print_close(c, "end", "", "-", wall_ms());
          release(fd);
          continue;
        }
      }
      if (c->state == ST_STREAM && (evs[i].events & EPOLLOUT)) stream_send(fd, now_ns());
    }
  }
  printf("{\"event\":\"summary\",\"opened\":%ld,\"closed\":%ld,\"problems\":%ld,"
         "\"sentBytes\":%llu,\"verifiedBytes\":%llu,\"cpuSec\":%.3f,\"t\":%.3f}\n",
         opened_total, closed_total, problems, (unsigned long long)total_sent,
         (unsigned long long)total_verified, cpu_seconds(), wall_ms());
  fflush(stdout);
  return 0;
}
