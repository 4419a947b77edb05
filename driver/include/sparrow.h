// SPDX-License-Identifier: Apache-2.0
//
// libsparrow: the host driver for a Sparrow device (docs/driver.md).
//
// Every call returns a sparrow_status_t; on failure sparrow_last_error(dev) says why in one line.
// No call blocks forever (each has the device's timeout, sparrow_set_timeout), and the library
// never exits or aborts the process.

#ifndef SPARROW_DRIVER_INCLUDE_SPARROW_H_
#define SPARROW_DRIVER_INCLUDE_SPARROW_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sparrow_status {
  SPARROW_OK = 0,
  SPARROW_E_ARG,       // bad argument (NULL, zero size, malformed URI, ...)
  SPARROW_E_NOMEM,     // host out of memory
  SPARROW_E_DEVMEM,    // device memory full, or an address/range not allocated
  SPARROW_E_CONNECT,   // could not reach the device (spawn failed, connection refused, no device)
  SPARROW_E_IO,        // transport failure (read/write error)
  SPARROW_E_CLOSED,    // the device closed the connection or died
  SPARROW_E_TIMEOUT,   // no answer within the timeout
  SPARROW_E_PROTOCOL,  // malformed or unexpected frame from the device
  SPARROW_E_DEVICE,    // the device answered with an error (message has its code and reason)
  SPARROW_E_FABRIC,    // the launch failed on the fabric (watchdog, bad program)
  SPARROW_E_FP,        // (reserved for sparrow_check_fp) NaN/Inf or invalid operation reported
} sparrow_status_t;

typedef struct sparrow_dev sparrow_dev_t;

// What the device says about itself (HELLO).
typedef struct sparrow_info {
  char config[8];      // "S", "M"
  const char *fabric;  // "rtl" or "model"
  uint32_t hw_version;
  uint32_t fw_version;
  uint32_t proto_version;
  uint32_t tiles;
  uint32_t lanes;
  uint32_t pmu_words;
  uint32_t agcu_outstanding;
  uint32_t prog_entries;
  uint32_t dram_bw;       // bytes per cycle
  uint32_t dram_latency;  // cycles
  uint32_t max_payload;
  uint64_t dram_bytes;
  uint64_t peak_macs_per_cycle;  // tiles * lanes^2
} sparrow_info_t;

#define SPARROW_MAX_UNITS 24

typedef struct sparrow_counters {
  uint64_t cycles;
  uint64_t dram_rd_bytes;
  uint64_t dram_wr_bytes;
  uint64_t macs;
  uint32_t units;  // AGCUs, then PMUs, then PCUs
  uint64_t busy[SPARROW_MAX_UNITS];
  uint64_t stall[SPARROW_MAX_UNITS];
} sparrow_counters_t;

// Opens a device. URIs:
//   sim[:rtl|:model][,config=S|M][,dram_bw=N][,dram_latency=N][,dram_mb=N]
//        spawn sparrow-sim on a socketpair: $SPARROW_SIM, else sparrow-sim next to the running
//        executable, else build/bin/sparrow-sim under the working directory (default rtl, M)
//   unix:PATH        connect to a running sparrow-sim
//   tcp:HOST:PORT    connect to a running sparrow-sim (HOST may be [IPv6])
//   usb[:VID:PID[:SERIAL]]  a Sparrow on USB, through libusb (hex VID:PID, default 1209:0001;
//        the serial is needed when several are attached; docs/usb.md)
// On failure *dev is NULL and, when msg is not NULL, msg (msg_len bytes) receives the reason.
sparrow_status_t sparrow_open(const char *uri, sparrow_dev_t **dev, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
void sparrow_close(sparrow_dev_t *dev);

const char *sparrow_last_error(const sparrow_dev_t *dev);
const char *sparrow_status_name(sparrow_status_t status);

// Timeout for each request/response exchange, in milliseconds (default 30000).
void sparrow_set_timeout(sparrow_dev_t *dev, uint32_t timeout_ms);

sparrow_status_t sparrow_info(sparrow_dev_t *dev, sparrow_info_t *info)
    __attribute__((warn_unused_result));
sparrow_status_t sparrow_reset(sparrow_dev_t *dev) __attribute__((warn_unused_result));

// Device memory: a host-side allocator over the device's DRAM (alignment 64 bytes).
sparrow_status_t sparrow_alloc(sparrow_dev_t *dev, uint64_t bytes, uint64_t *addr)
    __attribute__((warn_unused_result));
sparrow_status_t sparrow_free(sparrow_dev_t *dev, uint64_t addr);

// Transfers, chunked to the frame limit.
sparrow_status_t sparrow_write(sparrow_dev_t *dev, uint64_t addr, const void *src, size_t bytes)
    __attribute__((warn_unused_result));
sparrow_status_t sparrow_read(sparrow_dev_t *dev, uint64_t addr, void *dst, size_t bytes)
    __attribute__((warn_unused_result));

// Programs (docs/fabric.md): load at entry 0, launch, wait until done (polling the device in slices
// so that the driver's timeout, not the device, bounds the wait).
sparrow_status_t sparrow_load_program(sparrow_dev_t *dev, const uint64_t *entries, size_t count)
    __attribute__((warn_unused_result));
sparrow_status_t sparrow_launch(sparrow_dev_t *dev, uint32_t watchdog_cycles)
    __attribute__((warn_unused_result));
sparrow_status_t sparrow_wait(sparrow_dev_t *dev, uint32_t timeout_ms, uint32_t *fp_status)
    __attribute__((warn_unused_result));
sparrow_status_t sparrow_counters(sparrow_dev_t *dev, sparrow_counters_t *counters)
    __attribute__((warn_unused_result));

// The device's STATUS answer (docs/fabric.md: status and ERROR_CODE / ERROR_ENTRY of the last
// launch).
typedef struct sparrow_device_state {
  uint32_t status;
  uint32_t fp_status;
  uint32_t error_code;
  uint32_t error_entry;
} sparrow_device_state_t;
sparrow_status_t sparrow_query_status(sparrow_dev_t *dev, sparrow_device_state_t *state)
    __attribute__((warn_unused_result));

// A Sparrow seen on USB (sparrow_usb_list).
typedef struct sparrow_usb_device {
  char uri[176];  // "usb:1209:0001:SERIAL" ("usb:1209:0001" when the serial cannot be read)
  uint16_t vid;
  uint16_t pid;
  uint8_t bus;
  uint8_t address;
  char serial[128];   // "" when it could not be read
  char product[128];  // the product string, "" when it could not be read
  char problem[128];  // "" or why the device could not be opened (access denied, ...)
} sparrow_usb_device_t;

// Lists the USB devices with this VID:PID (0:0 = the default 1209:0001): the first cap of them go
// to devices, *count says how many there are. No device at all is SPARROW_OK with *count 0; a host
// without USB support is SPARROW_E_CONNECT.
sparrow_status_t sparrow_usb_list(uint16_t vid, uint16_t pid, sparrow_usb_device_t *devices,
                                  size_t cap, size_t *count, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// What the device is, for logs: "sim (pid 123: .../sparrow-sim --fd 5 ...)", "unix:/tmp/s", ...
const char *sparrow_describe(const sparrow_dev_t *dev);

// The watchdog sparrow_run launches with: cycles without any stream or DRAM beat.
#define SPARROW_RUN_WATCHDOG_CYCLES 1000000u

// load + launch + wait + counters in one call. counters may be NULL; they are read from the device
// either way and added to the handle's totals (sparrow_totals) when the launch completes.
sparrow_status_t sparrow_run(sparrow_dev_t *dev, const uint64_t *entries, size_t count,
                             uint32_t timeout_ms, sparrow_counters_t *counters, uint32_t *fp_status)
    __attribute__((warn_unused_result));

// The cumulative counters of this handle: the field-by-field sum (cycles, DRAM bytes read and
// written, macs, and busy[u] / stall[u] of every unit) of the counters of every launch that
// sparrow_run completed since sparrow_open. units is the largest unit count those launches reported
// (0 before the first). A launch that failed, and one made with sparrow_launch / sparrow_wait
// directly, is not in them. Host-side: no exchange with the device, and RESET does not clear them.
sparrow_status_t sparrow_totals(sparrow_dev_t *dev, sparrow_counters_t *out)
    __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_DRIVER_INCLUDE_SPARROW_H_
