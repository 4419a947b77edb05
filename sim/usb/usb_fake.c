// SPDX-License-Identifier: Apache-2.0
//
// sparrow-usb-fake: runs a command with simulated Sparrows attached as USB devices (docs/usb.md).
//
// A umockdev testbed holds the fake sysfs (each device's `descriptors`, idVendor, serial, ... come
// from the firmware's own tables, firmware/usb/) and an ioctl handler on each /dev/bus/usb/BBB/DDD
// node. The command runs with umockdev's preload library, so an unmodified libusb sees the devices
// and its usbfs ioctls arrive here: bulk OUT URBs are forwarded as bytes to a sparrow-sim (spawned
// on a socketpair when the interface is claimed, RTL fabric by default), and the frames sparrow-sim
// answers are sent back through the bulk IN endpoint model (usb_endpoint.c). Faults for the tests
// (--fault) are injected here, never in the driver.

#define _GNU_SOURCE  // close_range()

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <limits.h>
#include <linux/usbdevice_fs.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <umockdev.h>
#include <unistd.h>

#include "../../firmware/proto/sparrow_proto.h"
#include "../../firmware/usb/sparrow_usb_desc.h"
#include "usb_endpoint.h"

enum {
  kMaxDevices = 8,
  kReapParkMs = 2,  // how long a REAPURBNDELAY with nothing done waits before EAGAIN (see reap)
  kSimCloseGraceMs = 2000,
  kExitUsage = 2,
  kExitSetup = 3,
};

typedef enum fault_kind {
  kFaultNone,
  kFaultBusy,       // CLAIMINTERFACE: EBUSY, as if another program held the interface
  kFaultStallIn,    // after N answers, the IN endpoint halts (URBs complete with -EPIPE)
  kFaultStallOut,   // after N requests, the OUT endpoint halts
  kFaultNoAnswer,   // after N requests, requests are swallowed: no answer ever comes
  kFaultGoneAfter,  // the device vanishes while request N+1 is on the bus
} fault_kind_t;

typedef struct options {
  int count;
  const char *serial_base;  // device i gets serial_base, or serial_base-(i+1) when count > 1
  const char *fabric;
  const char *config;
  const char *sim_path;
  fault_kind_t fault;
  unsigned long fault_n;
  bool verbose;
  char **command;
} options_t;

// One URB the client submitted and has not reaped yet.
typedef struct urb {
  UMockdevIoctlData *data;  // struct usbdevfs_urb, resolved from the client
  UMockdevIoctlData *buf;   // its buffer (NULL for a zero-length URB)
  uint8_t endpoint;
  uint8_t type;
} urb_t;

typedef struct fake_dev {
  int index;
  int busnum, devnum;
  char devnode[64];  // /dev/bus/usb/BBB/DDD
  char syspath[64];  // /sys/devices/usbN
  sparrow_usb_desc_t desc;

  GMutex lock;  // everything below; taken by the umockdev handler thread and our I/O thread
  pid_t sim_pid;
  int sim_fd;   // -1 until the interface is claimed
  int wake[2];  // pipe: wakes the I/O thread
  bool claimed, gone, halt_in, halt_out, swallowing;
  GQueue in_pending;            // IN URBs waiting for data (urb_t *)
  GQueue done;                  // completed URBs, in completion order
  UMockdevIoctlClient *parked;  // a REAPURBNDELAY waiting for a completion
  gint64 parked_at;
  sparrow_usb_ep_in_t ep_in;
  // Response frames from sparrow-sim, reassembled: a real firmware hands the USB stack one frame
  // per transfer, so the endpoint model gets whole frames.
  uint8_t *rsp;
  size_t rsp_len;
  // Request stream from the host, followed frame by frame (for the faults, which count frames).
  uint8_t req_hdr[SPARROW_PROTO_HEADER_BYTES];
  size_t req_hdr_len;
  uint64_t req_left;  // bytes of the current request after its header
  unsigned long requests_started, answers;
} fake_dev_t;

static options_t g_opt;
static fake_dev_t g_dev[kMaxDevices];
static UMockdevTestbed *g_testbed;
static volatile gint g_stop;

static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vlog(const char *fmt, ...) {
  if (!g_opt.verbose) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "sparrow-usb-fake: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "sparrow-usb-fake: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (try --help)\n");
  va_end(ap);
  exit(kExitUsage);
}

static const char kUsage[] =
    "usage: sparrow-usb-fake [OPTIONS] -- COMMAND [ARGS...]\n"
    "Runs COMMAND with simulated Sparrows attached as USB devices (umockdev), each backed by a\n"
    "sparrow-sim started when its interface is claimed. Exits with COMMAND's status.\n"
    "  --count N          devices to attach, 0..8 (default 1)\n"
    "  --serial S         serial number (default " SPARROW_USB_DEFAULT_SERIAL
    "); with --count > 1 the devices\n"
    "                     get S-1, S-2, ...\n"
    "  --fabric rtl|model sparrow-sim's fabric (default rtl)\n"
    "  --config S|M       sparrow-sim's configuration (default M)\n"
    "  --sim PATH         the simulator (default: $SPARROW_SIM, else sparrow-sim next to this "
    "program)\n"
    "  --fault KIND[:N]   inject a fault (tests): busy, stall-in:N, stall-out:N, no-answer:N,\n"
    "                     gone-after:N (N = frames that go through first, default 0)\n"
    "  --verbose          log every ioctl\n";

static unsigned long parse_count(const char *opt, const char *s, unsigned long max) {
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v > max) {
    die_usage("%s %s: expected a decimal integer in [0, %lu]", opt, s, max);
  }
  return v;
}

static void parse_fault(const char *s) {
  static const struct {
    const char *name;
    fault_kind_t kind;
  } kFaults[] = {{"busy", kFaultBusy},
                 {"stall-in", kFaultStallIn},
                 {"stall-out", kFaultStallOut},
                 {"no-answer", kFaultNoAnswer},
                 {"gone-after", kFaultGoneAfter}};
  const char *colon = strchr(s, ':');
  size_t name_len = colon != NULL ? (size_t)(colon - s) : strlen(s);
  for (size_t i = 0; i < sizeof kFaults / sizeof kFaults[0]; i++) {
    if (strlen(kFaults[i].name) == name_len && strncmp(s, kFaults[i].name, name_len) == 0) {
      g_opt.fault = kFaults[i].kind;
      g_opt.fault_n = colon != NULL ? parse_count("--fault", colon + 1, 1000000) : 0;
      return;
    }
  }
  die_usage("--fault %s: unknown fault (busy, stall-in, stall-out, no-answer, gone-after)", s);
}

static void parse_args(int argc, char **argv) {
  g_opt.count = 1;
  g_opt.serial_base = SPARROW_USB_DEFAULT_SERIAL;
  g_opt.fabric = "rtl";
  g_opt.config = "M";
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(kUsage, stdout);
      exit(0);
    }
    if (strcmp(a, "--verbose") == 0) {
      g_opt.verbose = true;
      continue;
    }
    if (i + 1 >= argc) {
      die_usage("%s: unknown option, or its value is missing", a);
    }
    const char *v = argv[++i];
    if (strcmp(a, "--count") == 0) {
      g_opt.count = (int)parse_count(a, v, kMaxDevices);
    } else if (strcmp(a, "--serial") == 0) {
      g_opt.serial_base = v;
    } else if (strcmp(a, "--fabric") == 0) {
      if (strcmp(v, "rtl") != 0 && strcmp(v, "model") != 0) {
        die_usage("--fabric %s: expected rtl or model", v);
      }
      g_opt.fabric = v;
    } else if (strcmp(a, "--config") == 0) {
      if (strcmp(v, "S") != 0 && strcmp(v, "M") != 0) {
        die_usage("--config %s: expected S or M", v);
      }
      g_opt.config = v;
    } else if (strcmp(a, "--sim") == 0) {
      g_opt.sim_path = v;
    } else if (strcmp(a, "--fault") == 0) {
      parse_fault(v);
    } else {
      die_usage("%s: unknown option", a);
    }
  }
  if (i >= argc) {
    die_usage("no command given: sparrow-usb-fake [OPTIONS] -- COMMAND [ARGS...]");
  }
  g_opt.command = argv + i;
}

// ---------------------------------------------------------------------------------------------------
// sparrow-sim, one per claimed device.

static char g_sim_path[PATH_MAX];

static bool find_sim(void) {
  const char *env = getenv("SPARROW_SIM");
  const char *want = g_opt.sim_path != NULL ? g_opt.sim_path : env;
  if (want != NULL && want[0] != '\0') {
    snprintf(g_sim_path, sizeof g_sim_path, "%s", want);
  } else {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
      return false;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL) {
      return false;
    }
    *slash = '\0';
    snprintf(g_sim_path, sizeof g_sim_path, "%.*s/sparrow-sim", PATH_MAX - 16, self);
  }
  return access(g_sim_path, X_OK) == 0;
}

// Called with d->lock held.
static bool start_sim(fake_dev_t *d) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
    fprintf(stderr, "sparrow-usb-fake: socketpair: %s\n", strerror(errno));
    return false;
  }
  char fd_arg[16];
  snprintf(fd_arg, sizeof fd_arg, "%d", pair[1]);
  char *argv[] = {
      g_sim_path,           "--fd", fd_arg, "--fabric", (char *)g_opt.fabric, "--config",
      (char *)g_opt.config, NULL};
  pid_t pid = fork();
  if (pid == 0) {
    // The simulator gets its socket and stderr; stdout goes to stderr (COMMAND's stdout may be a
    // --json answer), and it must not inherit umockdev's preload.
    unsetenv("LD_PRELOAD");
    dup2(STDERR_FILENO, STDOUT_FILENO);
    close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
    fcntl(pair[1], F_SETFD, 0);
    execv(g_sim_path, argv);
    fprintf(stderr, "sparrow-usb-fake: cannot run %s: %s\n", g_sim_path, strerror(errno));
    _exit(127);
  }
  close(pair[1]);
  if (pid < 0) {
    close(pair[0]);
    fprintf(stderr, "sparrow-usb-fake: fork: %s\n", strerror(errno));
    return false;
  }
  fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK);
  d->sim_pid = pid;
  d->sim_fd = pair[0];
  d->rsp_len = 0;
  d->req_hdr_len = 0;
  d->req_left = 0;
  vlog("%s: started %s (pid %d)", d->devnode, g_sim_path, (int)pid);
  return true;
}

static void reap_sim(pid_t pid) {
  for (int waited = 0; waited < kSimCloseGraceMs; waited += 10) {
    if (waitpid(pid, NULL, WNOHANG) != 0) {
      return;
    }
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

// Called with d->lock held: the session ends (interface released, device gone, program over).
static void stop_sim(fake_dev_t *d) {
  if (d->sim_fd >= 0) {
    close(d->sim_fd);  // sparrow-sim leaves on EOF
    d->sim_fd = -1;
  }
  if (d->sim_pid > 0) {
    reap_sim(d->sim_pid);
    d->sim_pid = -1;
  }
  sparrow_usb_ep_in_clear(&d->ep_in);
  d->rsp_len = 0;
}

// ---------------------------------------------------------------------------------------------------
// URBs.

static struct usbdevfs_urb *urb_struct(urb_t *u) {
  return (struct usbdevfs_urb *)u->data->data;
}

static void urb_free(urb_t *u) {
  if (u->buf != NULL) {
    umockdev_ioctl_data_unref(u->buf);
  }
  umockdev_ioctl_data_unref(u->data);
  g_free(u);
}

// Called with d->lock held.
static void finish(fake_dev_t *d, urb_t *u, int status, size_t actual) {
  struct usbdevfs_urb *s = urb_struct(u);
  s->status = status;
  s->actual_length = (int)actual;
  g_queue_push_tail(&d->done, u);
}

static void wake(fake_dev_t *d) {
  char c = 1;
  (void)!write(d->wake[1], &c, 1);
}

// Called with d->lock held: hands the oldest completed URB to a REAPURB(NDELAY) client.
static void reap_one(fake_dev_t *d, UMockdevIoctlClient *client) {
  urb_t *u = g_queue_pop_head(&d->done);
  UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
  GError *err = NULL;
  UMockdevIoctlData *ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), &err);
  if (ptr == NULL) {
    fprintf(stderr, "sparrow-usb-fake: REAPURB: %s\n", err != NULL ? err->message : "bad pointer");
    g_clear_error(&err);
    umockdev_ioctl_client_complete(client, -1, EFAULT);
    urb_free(u);
    return;
  }
  struct usbdevfs_urb *s = urb_struct(u);
  vlog("%s: reap URB ep 0x%02x: status %d, %d of %d bytes", d->devnode, u->endpoint, s->status,
       s->actual_length, s->buffer_length);
  // The reaped pointer must be the client's own URB address: set_ptr writes it back that way, and
  // the URB (and the IN data in its buffer) is written back to the client with it.
  umockdev_ioctl_data_set_ptr(ptr, 0, u->data);
  umockdev_ioctl_data_unref(ptr);
  umockdev_ioctl_client_complete(client, 0, 0);
  // The client holds on to the data until the completion is flushed; our references can go.
  urb_free(u);
}

// Called with d->lock held: a parked reap is answered when a URB completes, or with EAGAIN once it
// has waited kReapParkMs (libusb treats the usbfs fd as always ready and would otherwise spin).
static void answer_parked(fake_dev_t *d, bool timeout_passed) {
  if (d->parked == NULL) {
    return;
  }
  if (!g_queue_is_empty(&d->done)) {
    reap_one(d, d->parked);
  } else if (d->gone) {
    umockdev_ioctl_client_complete(d->parked, -1, ENODEV);
  } else if (timeout_passed || g_queue_is_empty(&d->in_pending)) {
    umockdev_ioctl_client_complete(d->parked, -1, EAGAIN);
  } else {
    return;
  }
  g_object_unref(d->parked);
  d->parked = NULL;
}

// Called with d->lock held: serves pending IN URBs from the endpoint.
static void serve_in(fake_dev_t *d) {
  while (!g_queue_is_empty(&d->in_pending)) {
    urb_t *u = g_queue_peek_head(&d->in_pending);
    struct usbdevfs_urb *s = urb_struct(u);
    if (d->halt_in) {
      g_queue_pop_head(&d->in_pending);
      finish(d, u, -EPIPE, 0);
      continue;
    }
    size_t actual = 0;
    uint8_t *buf = u->buf != NULL ? u->buf->data : NULL;
    sparrow_usb_fill_t r =
        sparrow_usb_ep_in_fill(&d->ep_in, buf, (size_t)s->buffer_length, &actual);
    if (r == kSparrowUsbFillPending) {
      return;
    }
    g_queue_pop_head(&d->in_pending);
    finish(d, u, r == kSparrowUsbFillOverflow ? -EOVERFLOW : 0, actual);
  }
}

// Called with d->lock held: the device drops off the bus. Everything in flight completes with
// -ESHUTDOWN (as usbfs reports a disconnect), later ioctls fail with ENODEV.
static void vanish(fake_dev_t *d) {
  if (d->gone) {
    return;
  }
  d->gone = true;
  fprintf(stderr, "sparrow-usb-fake: %s: fault gone-after:%lu: the device is unplugged\n",
          d->devnode, g_opt.fault_n);
  while (!g_queue_is_empty(&d->in_pending)) {
    finish(d, g_queue_pop_head(&d->in_pending), -ESHUTDOWN, 0);
  }
  stop_sim(d);
  umockdev_testbed_remove_device(g_testbed, d->syspath);  // later scans no longer see it
}

// Called with d->lock held: follows the request stream frame by frame, so that faults can count
// requests. Returns how many bytes of data to forward to sparrow-sim (less when a fault hits).
static size_t track_requests(fake_dev_t *d, const uint8_t *data, size_t len, bool *vanished) {
  size_t forward = 0;
  while (forward < len) {
    if (d->req_left == 0 && d->req_hdr_len == 0) {
      // The first byte of a new request.
      if (g_opt.fault == kFaultGoneAfter && d->requests_started == g_opt.fault_n) {
        vanish(d);
        *vanished = true;
        return forward;
      }
      if (g_opt.fault == kFaultNoAnswer && d->requests_started == g_opt.fault_n) {
        d->swallowing = true;
        fprintf(stderr, "sparrow-usb-fake: %s: fault no-answer:%lu: requests are ignored\n",
                d->devnode, g_opt.fault_n);
      }
      d->requests_started++;
    }
    if (d->req_hdr_len < SPARROW_PROTO_HEADER_BYTES) {
      d->req_hdr[d->req_hdr_len++] = data[forward++];
      if (d->req_hdr_len == SPARROW_PROTO_HEADER_BYTES) {
        // A bad header is the firmware's business; a huge length just keeps the count going.
        d->req_left = (uint64_t)sparrow_get_u32(d->req_hdr + 12) + SPARROW_PROTO_CRC_BYTES;
      }
      continue;
    }
    size_t n = len - forward < d->req_left ? len - forward : (size_t)d->req_left;
    forward += n;
    d->req_left -= n;
    if (d->req_left == 0) {
      d->req_hdr_len = 0;
    }
  }
  return forward;
}

static bool write_all(int fd, const uint8_t *p, size_t len) {
  size_t put = 0;
  while (put < len) {
    ssize_t n = send(fd, p + put, len - put, MSG_NOSIGNAL);
    if (n > 0) {
      put += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      if (poll(&pfd, 1, 10000) <= 0) {
        return false;
      }
      continue;
    }
    return false;
  }
  return true;
}

// Called with d->lock held.
static void bulk_out(fake_dev_t *d, urb_t *u) {
  struct usbdevfs_urb *s = urb_struct(u);
  size_t len = (size_t)s->buffer_length;
  if (g_opt.fault == kFaultStallOut && d->requests_started >= g_opt.fault_n && !d->halt_out &&
      len > 0 && d->req_hdr_len == 0 && d->req_left == 0) {
    d->halt_out = true;
    fprintf(stderr, "sparrow-usb-fake: %s: fault stall-out:%lu: OUT endpoint halted\n", d->devnode,
            g_opt.fault_n);
  }
  if (d->halt_out) {
    finish(d, u, -EPIPE, 0);
    return;
  }
  bool vanished = false;
  size_t forward = len == 0 ? 0 : track_requests(d, u->buf->data, len, &vanished);
  if (vanished) {
    finish(d, u, -ESHUTDOWN, forward);
    return;
  }
  if (!d->swallowing && forward > 0 &&
      (d->sim_fd < 0 || !write_all(d->sim_fd, u->buf->data, forward))) {
    fprintf(stderr, "sparrow-usb-fake: %s: sparrow-sim does not take data\n", d->devnode);
    finish(d, u, -EPROTO, 0);
    return;
  }
  finish(d, u, 0, len);
}

// Called with d->lock held: a control transfer on endpoint 0 (standard requests only).
static void control(fake_dev_t *d, urb_t *u) {
  struct usbdevfs_urb *s = urb_struct(u);
  if (u->buf == NULL || s->buffer_length < 8) {
    finish(d, u, -EINVAL, 0);
    return;
  }
  const uint8_t *setup = u->buf->data;
  uint8_t type = setup[0], request = setup[1];
  uint16_t value = (uint16_t)(setup[2] | setup[3] << 8);
  uint16_t length = (uint16_t)(setup[6] | setup[7] << 8);
  size_t room = (size_t)s->buffer_length - 8;
  if (type == 0x80 && request == 0x06) {  // GET_DESCRIPTOR
    size_t n = sparrow_usb_get_descriptor(&d->desc, value, length, u->buf->data + 8, room);
    vlog("%s: GET_DESCRIPTOR 0x%04x (%u bytes): %zu", d->devnode, value, length, n);
    finish(d, u, n == 0 ? -EPIPE : 0, n);
    return;
  }
  if (type == 0x80 && request == 0x00 && room >= 2) {  // GET_STATUS: bus powered, no wakeup
    u->buf->data[8] = 0;
    u->buf->data[9] = 0;
    finish(d, u, 0, 2);
    return;
  }
  finish(d, u, -EPIPE, 0);  // anything else: a stall, as a device without it answers
}

static fake_dev_t *device_of(UMockdevIoctlClient *client) {
  const char *node = umockdev_ioctl_client_get_devnode(client);
  for (int i = 0; i < g_opt.count; i++) {
    if (node != NULL && g_str_has_suffix(node, g_dev[i].devnode)) {
      return &g_dev[i];
    }
  }
  return NULL;
}

static gboolean submit(fake_dev_t *d, UMockdevIoctlClient *client, UMockdevIoctlData *arg) {
  GError *err = NULL;
  UMockdevIoctlData *data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), &err);
  if (data == NULL) {
    g_clear_error(&err);
    umockdev_ioctl_client_complete(client, -1, EFAULT);
    return TRUE;
  }
  struct usbdevfs_urb *s = (struct usbdevfs_urb *)data->data;
  if (s->buffer_length < 0) {
    umockdev_ioctl_client_complete(client, -1, EINVAL);
    return TRUE;
  }
  urb_t *u = g_new0(urb_t, 1);
  u->data = umockdev_ioctl_data_ref(data);
  u->endpoint = s->endpoint;
  u->type = s->type;
  if (s->buffer_length > 0) {
    u->buf = umockdev_ioctl_data_resolve(data, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
                                         (gsize)s->buffer_length, &err);
    if (u->buf == NULL) {
      g_clear_error(&err);
      urb_free(u);
      umockdev_ioctl_client_complete(client, -1, EFAULT);
      return TRUE;
    }
    umockdev_ioctl_data_ref(u->buf);
  }
  vlog("%s: submit URB type %u ep 0x%02x, %d bytes", d->devnode, u->type, u->endpoint,
       s->buffer_length);
  if (u->type == USBDEVFS_URB_TYPE_CONTROL && u->endpoint == 0) {
    control(d, u);
  } else if (u->type != USBDEVFS_URB_TYPE_BULK ||
             (u->endpoint != SPARROW_USB_EP_OUT && u->endpoint != SPARROW_USB_EP_IN)) {
    urb_free(u);
    umockdev_ioctl_client_complete(client, -1, ENOENT);  // no such endpoint
    return TRUE;
  } else if (!d->claimed) {
    urb_free(u);
    umockdev_ioctl_client_complete(client, -1, EINVAL);  // usbfs: claim the interface first
    return TRUE;
  } else if (u->endpoint == SPARROW_USB_EP_OUT) {
    bulk_out(d, u);
  } else {
    g_queue_push_tail(&d->in_pending, u);
    serve_in(d);
  }
  umockdev_ioctl_client_complete(client, 0, 0);
  answer_parked(d, false);
  wake(d);
  return TRUE;
}

static gboolean discard(fake_dev_t *d, UMockdevIoctlClient *client, UMockdevIoctlData *arg) {
  // The argument is the URB's address in the client, as given to SUBMITURB.
  gulong addr = *(gulong *)arg->data;
  for (GList *l = d->in_pending.head; l != NULL; l = l->next) {
    urb_t *u = l->data;
    if (u->data->client_addr == addr) {
      g_queue_delete_link(&d->in_pending, l);
      finish(d, u, -ENOENT, 0);  // a discarded URB is reaped with -ENOENT
      umockdev_ioctl_client_complete(client, 0, 0);
      answer_parked(d, false);
      return TRUE;
    }
  }
  umockdev_ioctl_client_complete(client, -1, EINVAL);  // already completed
  return TRUE;
}

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                             gpointer user_data) {
  (void)handler;
  (void)user_data;
  fake_dev_t *d = device_of(client);
  if (d == NULL) {
    return FALSE;
  }
  gulong request = umockdev_ioctl_client_get_request(client);
  UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
  GError *err = NULL;
  g_mutex_lock(&d->lock);
  gboolean handled = TRUE;
  if (d->gone && request != USBDEVFS_REAPURB && request != USBDEVFS_REAPURBNDELAY) {
    umockdev_ioctl_client_complete(client, -1, ENODEV);
    g_mutex_unlock(&d->lock);
    return TRUE;
  }
  switch (request) {
    case USBDEVFS_GET_CAPABILITIES: {
      UMockdevIoctlData *caps = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), &err);
      if (caps == NULL) {
        g_clear_error(&err);
        umockdev_ioctl_client_complete(client, -1, EFAULT);
        break;
      }
      // One URB per transfer, whatever its size, and ZLPs on request.
      *(guint32 *)caps->data = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_NO_PACKET_SIZE_LIM;
      umockdev_ioctl_client_complete(client, 0, 0);
      break;
    }
    case USBDEVFS_CLAIMINTERFACE: {
      UMockdevIoctlData *itf = umockdev_ioctl_data_resolve(arg, 0, sizeof(unsigned int), &err);
      unsigned int n = itf != NULL ? *(unsigned int *)itf->data : ~0u;
      g_clear_error(&err);
      if (n != SPARROW_USB_INTERFACE) {
        umockdev_ioctl_client_complete(client, -1, ENOENT);
      } else if (g_opt.fault == kFaultBusy) {
        fprintf(stderr, "sparrow-usb-fake: %s: fault busy: interface 0 is claimed elsewhere\n",
                d->devnode);
        umockdev_ioctl_client_complete(client, -1, EBUSY);
      } else if (!d->claimed && !start_sim(d)) {
        umockdev_ioctl_client_complete(client, -1, EIO);
      } else {
        d->claimed = true;
        umockdev_ioctl_client_complete(client, 0, 0);
      }
      break;
    }
    case USBDEVFS_RELEASEINTERFACE:
      // A new session starts from a fresh simulator (nothing half-sent from the last one).
      stop_sim(d);
      d->claimed = false;
      umockdev_ioctl_client_complete(client, 0, 0);
      break;
    case USBDEVFS_CLEAR_HALT: {
      UMockdevIoctlData *ep = umockdev_ioctl_data_resolve(arg, 0, sizeof(unsigned int), &err);
      g_clear_error(&err);
      if (ep != NULL && *(unsigned int *)ep->data == SPARROW_USB_EP_IN) {
        d->halt_in = false;
      } else if (ep != NULL && *(unsigned int *)ep->data == SPARROW_USB_EP_OUT) {
        d->halt_out = false;
      }
      umockdev_ioctl_client_complete(client, 0, 0);
      break;
    }
    case USBDEVFS_SETINTERFACE:
    case USBDEVFS_SETCONFIGURATION:
    case USBDEVFS_RESET:
    case USBDEVFS_RESETEP:
      umockdev_ioctl_client_complete(client, 0, 0);
      break;
    case USBDEVFS_GETDRIVER:
      umockdev_ioctl_client_complete(client, -1, ENODATA);  // no kernel driver bound
      break;
    case USBDEVFS_SUBMITURB:
      handled = submit(d, client, arg);
      break;
    case USBDEVFS_DISCARDURB:
      handled = discard(d, client, arg);
      break;
    case USBDEVFS_REAPURB:
    case USBDEVFS_REAPURBNDELAY:
      if (!g_queue_is_empty(&d->done)) {
        reap_one(d, client);
      } else if (d->gone) {
        umockdev_ioctl_client_complete(client, -1, ENODEV);
      } else if (g_queue_is_empty(&d->in_pending) || d->parked != NULL) {
        umockdev_ioctl_client_complete(client, -1, EAGAIN);
      } else {
        d->parked = g_object_ref(client);
        d->parked_at = g_get_monotonic_time();
        wake(d);
      }
      break;
    default:
      vlog("%s: ioctl 0x%lx not emulated (ENOTTY)", d->devnode, request);
      umockdev_ioctl_client_complete(client, -1, ENOTTY);
      break;
  }
  g_mutex_unlock(&d->lock);
  return handled;
}

// ---------------------------------------------------------------------------------------------------
// The I/O thread: reads sparrow-sim's answers, completes IN URBs and parked reaps.

// Called with d->lock held.
static void take_answers(fake_dev_t *d) {
  for (;;) {
    size_t want = SPARROW_PROTO_HEADER_BYTES;
    if (d->rsp_len >= SPARROW_PROTO_HEADER_BYTES) {
      uint32_t length = sparrow_get_u32(d->rsp + 12);
      want = SPARROW_PROTO_HEADER_BYTES + (size_t)length + SPARROW_PROTO_CRC_BYTES;
      if (length > SPARROW_PROTO_MAX_PAYLOAD) {
        want = d->rsp_len;  // cannot happen with our firmware; pass the bytes on as they are
      }
    }
    if (d->rsp_len >= SPARROW_PROTO_HEADER_BYTES && d->rsp_len == want) {
      if (g_opt.fault == kFaultStallIn && d->answers == g_opt.fault_n && !d->halt_in) {
        d->halt_in = true;
        fprintf(stderr, "sparrow-usb-fake: %s: fault stall-in:%lu: IN endpoint halted\n",
                d->devnode, g_opt.fault_n);
      }
      d->answers++;
      if (!sparrow_usb_ep_in_queue(&d->ep_in, d->rsp, d->rsp_len)) {
        fprintf(stderr, "sparrow-usb-fake: out of memory\n");
      }
      d->rsp_len = 0;
      continue;
    }
    ssize_t n = read(d->sim_fd, d->rsp + d->rsp_len, want - d->rsp_len);
    if (n > 0) {
      d->rsp_len += (size_t)n;
      continue;
    }
    if (n == 0) {
      fprintf(stderr, "sparrow-usb-fake: %s: sparrow-sim closed its socket\n", d->devnode);
      close(d->sim_fd);
      d->sim_fd = -1;
    }
    return;  // EAGAIN, or an error the next poll reports
  }
}

static gpointer io_thread(gpointer arg) {
  fake_dev_t *d = arg;
  while (!g_atomic_int_get(&g_stop)) {
    g_mutex_lock(&d->lock);
    int sim_fd = d->sim_fd;
    bool parked = d->parked != NULL;
    g_mutex_unlock(&d->lock);
    struct pollfd p[2] = {{.fd = d->wake[0], .events = POLLIN}, {.fd = sim_fd, .events = POLLIN}};
    int r = poll(p, sim_fd >= 0 ? 2 : 1, parked ? kReapParkMs : 200);
    if (r < 0 && errno != EINTR) {
      break;
    }
    if (p[0].revents & POLLIN) {
      char buf[64];
      (void)!read(d->wake[0], buf, sizeof buf);
    }
    g_mutex_lock(&d->lock);
    if (d->sim_fd >= 0 && d->sim_fd == sim_fd && (p[1].revents & (POLLIN | POLLHUP))) {
      take_answers(d);
    }
    serve_in(d);
    bool late =
        d->parked != NULL && g_get_monotonic_time() - d->parked_at >= (gint64)kReapParkMs * 1000;
    answer_parked(d, late);
    g_mutex_unlock(&d->lock);
  }
  return NULL;
}

// ---------------------------------------------------------------------------------------------------
// The testbed and the command.

static bool add_device(fake_dev_t *d) {
  uint8_t desc[SPARROW_USB_DEVICE_DESC_BYTES + SPARROW_USB_CONFIG_DESC_BYTES];
  size_t n = sparrow_usb_sysfs_descriptors(&d->desc, desc, sizeof desc);
  GString *hex = g_string_new(NULL);
  for (size_t i = 0; i < n; i++) {
    g_string_append_printf(hex, "%02x", desc[i]);
  }
  // The attributes libusb and udev read; the node (N:) is created so that open() finds a file.
  char *record = g_strdup_printf(
      "P: /devices/usb%d\n"
      "N: bus/usb/%03d/%03d\n"
      "E: SUBSYSTEM=usb\n"
      "E: DEVTYPE=usb_device\n"
      "E: DRIVER=usb\n"
      "E: BUSNUM=%03d\n"
      "E: DEVNUM=%03d\n"
      "E: DEVNAME=/dev/bus/usb/%03d/%03d\n"
      "E: PRODUCT=%x/%x/%x\n"
      "A: idVendor=%04x\\n\n"
      "A: idProduct=%04x\\n\n"
      "A: bcdDevice=%04x\\n\n"
      "A: manufacturer=%s\\n\n"
      "A: product=%s\\n\n"
      "A: serial=%s\\n\n"
      "A: busnum=%d\\n\n"
      "A: devnum=%d\\n\n"
      "A: speed=%s\\n\n"
      "A: bConfigurationValue=%u\\n\n"
      "A: bNumConfigurations=1\\n\n"
      "A: bNumInterfaces= 1\\n\n"
      "A: bMaxPacketSize0=%u\\n\n"
      "H: descriptors=%s\n",
      d->busnum, d->busnum, d->devnum, d->busnum, d->devnum, d->busnum, d->devnum, d->desc.vid,
      d->desc.pid, SPARROW_USB_BCD_DEVICE, d->desc.vid, d->desc.pid, SPARROW_USB_BCD_DEVICE,
      SPARROW_USB_MANUFACTURER, SPARROW_USB_PRODUCT, d->desc.serial, d->busnum, d->devnum,
      d->desc.max_packet == SPARROW_USB_MAX_PACKET_HS ? "480" : "12", SPARROW_USB_CONFIGURATION,
      SPARROW_USB_MAX_PACKET_EP0, hex->str);
  g_string_free(hex, TRUE);
  GError *err = NULL;
  bool ok = umockdev_testbed_add_from_string(g_testbed, record, &err);
  g_free(record);
  if (!ok) {
    fprintf(stderr, "sparrow-usb-fake: cannot add %s: %s\n", d->devnode, err->message);
    g_clear_error(&err);
  }
  return ok;
}

static int g_command_status = -1;
static GMainLoop *g_loop;

static void on_command_exit(GPid pid, gint status, gpointer user_data) {
  (void)user_data;
  g_spawn_close_pid(pid);
  g_command_status = status;
  g_main_loop_quit(g_loop);
}

static gboolean on_signal(gpointer user_data) {
  pid_t pid = (pid_t)GPOINTER_TO_INT(user_data);
  kill(pid, SIGTERM);  // the command ends, then so do we
  return G_SOURCE_CONTINUE;
}

static pid_t run_command(void) {
  // umockdev-run's way: the preload library goes first in LD_PRELOAD; UMOCKDEV_DIR (set by the
  // testbed) points it at the fake sysfs and /dev.
  const char *old = getenv("LD_PRELOAD");
  char *preload = old != NULL && old[0] != '\0'
                      ? g_strdup_printf("libumockdev-preload.so.0:%s", old)
                      : g_strdup("libumockdev-preload.so.0");
  pid_t pid = fork();
  if (pid == 0) {
    setenv("LD_PRELOAD", preload, 1);
    execvp(g_opt.command[0], g_opt.command);
    fprintf(stderr, "sparrow-usb-fake: cannot run %s: %s\n", g_opt.command[0], strerror(errno));
    _exit(127);
  }
  g_free(preload);
  return pid;
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (g_opt.count > 0 && !find_sim()) {
    fprintf(stderr,
            "sparrow-usb-fake: sparrow-sim not found or not executable (%s); build it (make) or "
            "give --sim PATH\n",
            g_sim_path[0] != '\0' ? g_sim_path : "?");
    return kExitSetup;
  }
  if (umockdev_in_mock_environment()) {
    fprintf(stderr, "sparrow-usb-fake: already inside a umockdev environment\n");
    return kExitSetup;
  }
  g_testbed = umockdev_testbed_new();
  UMockdevIoctlBase *handler = umockdev_ioctl_base_new();
  g_signal_connect(handler, "handle-ioctl", G_CALLBACK(handle_ioctl), NULL);

  GThread *threads[kMaxDevices] = {0};
  for (int i = 0; i < g_opt.count; i++) {
    fake_dev_t *d = &g_dev[i];
    d->index = i;
    d->busnum = i + 1;
    d->devnum = 1;
    d->sim_fd = -1;
    d->sim_pid = -1;
    g_mutex_init(&d->lock);
    g_queue_init(&d->in_pending);
    g_queue_init(&d->done);
    sparrow_usb_desc_init(&d->desc);
    char *serial = g_opt.count == 1 ? g_strdup(g_opt.serial_base)
                                    : g_strdup_printf("%s-%d", g_opt.serial_base, i + 1);
    if (sparrow_usb_desc_set_serial(&d->desc, serial) != kSparrowUsbOk) {
      die_usage("--serial %s: 1..%u printable characters, no ':' or space", serial,
                SPARROW_USB_SERIAL_MAX);
    }
    g_free(serial);
    sparrow_usb_ep_in_init(&d->ep_in, d->desc.max_packet);
    d->rsp = g_malloc(SPARROW_PROTO_MAX_FRAME);
    snprintf(d->devnode, sizeof d->devnode, "/dev/bus/usb/%03d/%03d", d->busnum, d->devnum);
    snprintf(d->syspath, sizeof d->syspath, "/sys/devices/usb%d", d->busnum);
    if (pipe2(d->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
      fprintf(stderr, "sparrow-usb-fake: pipe: %s\n", strerror(errno));
      return kExitSetup;
    }
    // The handler first, so that the device can be opened as soon as it appears.
    GError *err = NULL;
    if (!umockdev_testbed_attach_ioctl(g_testbed, d->devnode, handler, &err)) {
      fprintf(stderr, "sparrow-usb-fake: cannot attach to %s: %s\n", d->devnode,
              err != NULL ? err->message : "?");
      return kExitSetup;
    }
    if (!add_device(d)) {
      return kExitSetup;
    }
    threads[i] = g_thread_new("usb-io", io_thread, d);
  }

  g_loop = g_main_loop_new(NULL, FALSE);
  pid_t pid = run_command();
  if (pid < 0) {
    fprintf(stderr, "sparrow-usb-fake: fork: %s\n", strerror(errno));
    return kExitSetup;
  }
  g_child_watch_add(pid, on_command_exit, NULL);
  g_unix_signal_add(SIGINT, on_signal, GINT_TO_POINTER(pid));
  g_unix_signal_add(SIGTERM, on_signal, GINT_TO_POINTER(pid));
  g_main_loop_run(g_loop);

  g_atomic_int_set(&g_stop, 1);
  for (int i = 0; i < g_opt.count; i++) {
    wake(&g_dev[i]);
    g_thread_join(threads[i]);
    g_mutex_lock(&g_dev[i].lock);
    stop_sim(&g_dev[i]);
    g_mutex_unlock(&g_dev[i].lock);
  }
  g_object_unref(g_testbed);  // removes the testbed's directory
  if (WIFEXITED(g_command_status)) {
    return WEXITSTATUS(g_command_status);
  }
  return WIFSIGNALED(g_command_status) ? 128 + WTERMSIG(g_command_status) : 1;
}
