; Real mode with the in-kernel irqchip: point IVT vector 0x25 at a handler, program the master
; PIC (base 0x20, only IRQ 5 unmasked) and mask the slave, enable interrupts, tell the host it is
; ready (port 0x513; the host raises IRQ 5 while handling that exit), and wait in HLT. The
; handler reports on port 0x514, sends EOI, and resets through the i8042, which ends the run.
bits 16
org 0x1000
  cli
  xor ax, ax
  mov ds, ax
  mov word [0x25*4], handler
  mov word [0x25*4+2], 0
  mov al, 0x11
  out 0x20, al
  mov al, 0x20
  out 0x21, al
  mov al, 0x04
  out 0x21, al
  mov al, 0x01
  out 0x21, al
  mov al, 0xdf
  out 0x21, al
  mov al, 0xff
  out 0xa1, al
  sti
  mov dx, 0x513
  out dx, al
idle:
  hlt
  jmp idle
handler:
  mov dx, 0x514
  out dx, al
  mov al, 0x20
  out 0x20, al
  mov al, 0xfe
  out 0x64, al
  iret
