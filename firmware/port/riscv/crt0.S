/* SPDX-License-Identifier: Apache-2.0
 *
 * Reset entry: the image is loaded into RAM as linked (no ROM-to-RAM copy). Sets the global and
 * stack pointers, points traps at a parking loop, zeroes .bss and calls main. */

  .section .text.init, "ax", @progbits
  .globl _start
_start:
  .option push
  .option norelax
  la    gp, __global_pointer$
  .option pop
  la    sp, __stack_top
  la    t0, trap_park
  csrw  mtvec, t0
  la    t0, __bss_start
  la    t1, __bss_end
1:
  bgeu  t0, t1, 2f
  sw    zero, 0(t0)
  addi  t0, t0, 4
  j     1b
2:
  call  main
  /* main never returns; if it did, park. */

/* Any trap (the firmware enables no interrupts, so only a fault) parks the hart: a debugger finds
 * mcause/mepc intact. */
  .align 2
trap_park:
  wfi
  j     trap_park
