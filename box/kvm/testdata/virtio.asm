; 32-bit protected mode at 0x100000: drive the virtio-mmio frame port at 0xd0000000 the way a
; driver does (status handshake, VERSION_1, both queues), transmit the frame the host placed at
; TX (its length in TXLEN), post a receive buffer, wait (with a port exit per poll, so the VMM
; keeps control) for the host's reply, transmit the reply back unchanged, and halt.
bits 32
org 0x100000
%define MMIO   0xd0000000
%define RXQ    0x300000            ; desc table, avail at +0x1000, used at +0x2000
%define TXQ    0x310000
%define RXBUF  0x320000
%define TX     0x330000
%define TXLEN  0x32fff0

  mov dword [MMIO+0x70], 1         ; ACKNOWLEDGE
  mov dword [MMIO+0x70], 3         ; DRIVER
  mov dword [MMIO+0x24], 1         ; driver features, high word
  mov dword [MMIO+0x20], 1         ; VIRTIO_F_VERSION_1
  mov dword [MMIO+0x70], 11        ; FEATURES_OK
  mov eax, [MMIO+0x70]
  test eax, 8
  jz fail

  mov dword [MMIO+0x30], 0         ; queue 0: receiveq
  mov dword [MMIO+0x38], 8
  mov dword [MMIO+0x80], RXQ
  mov dword [MMIO+0x90], RXQ+0x1000
  mov dword [MMIO+0xa0], RXQ+0x2000
  mov dword [MMIO+0x44], 1
  mov dword [MMIO+0x30], 1         ; queue 1: transmitq
  mov dword [MMIO+0x38], 8
  mov dword [MMIO+0x80], TXQ
  mov dword [MMIO+0x90], TXQ+0x1000
  mov dword [MMIO+0xa0], TXQ+0x2000
  mov dword [MMIO+0x44], 1
  mov dword [MMIO+0x70], 15        ; DRIVER_OK

  ; receive buffer: desc 0 = {RXBUF, 256, WRITE}
  mov dword [RXQ], RXBUF
  mov dword [RXQ+4], 0
  mov dword [RXQ+8], 256
  mov word [RXQ+12], 2
  mov word [RXQ+0x1000+4], 0       ; avail.ring[0] = 0
  mov word [RXQ+0x1000+2], 1       ; avail.idx = 1
  mov dword [MMIO+0x50], 0         ; notify receiveq

  ; transmit the host's frame: desc 0 = {TX, [TXLEN], 0}
  mov dword [TXQ], TX
  mov dword [TXQ+4], 0
  mov eax, [TXLEN]
  mov dword [TXQ+8], eax
  mov word [TXQ+12], 0
  mov word [TXQ+0x1000+4], 0
  mov word [TXQ+0x1000+2], 1
  mov dword [MMIO+0x50], 1         ; notify transmitq

poll:
  out 0x80, al                     ; an exit per poll
  mov ax, [RXQ+0x2000+2]           ; used.idx of receiveq
  cmp ax, 1
  jne poll
  mov eax, [MMIO+0x60]             ; acknowledge the interrupt
  mov [MMIO+0x64], eax

  ; echo: desc 1 = {RXBUF, used.ring[0].len, 0}
  mov eax, [RXQ+0x2000+8]
  mov dword [TXQ+16], RXBUF
  mov dword [TXQ+20], 0
  mov dword [TXQ+24], eax
  mov word [TXQ+28], 0
  mov word [TXQ+0x1000+6], 1       ; avail.ring[1] = 1
  mov word [TXQ+0x1000+2], 2
  mov dword [MMIO+0x50], 1
  mov eax, 0x600d
  hlt
fail:
  mov eax, 0xbad
  hlt
