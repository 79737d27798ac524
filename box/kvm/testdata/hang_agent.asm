; The echo agent of echo_agent.asm, hung: it answers the first chunk the host sends (so the
; driver sees its agent come up), then spins forever without a single exit. Only ending the
; VMM's process can stop it; the kvm driver's stop and kill must not wait for it.
bits 32
org 0x100000
%define MMIO   0xd0000000
%define RXQ    0x300000            ; desc table, avail at +0x1000, used at +0x2000
%define TXQ    0x310000
%define RXBUF  0x320000
%define TXBUF  0x330000

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

  ; the one receive descriptor: {RXBUF, 4096, WRITE}; the one transmit descriptor: {TXBUF, len}
  mov dword [RXQ], RXBUF
  mov dword [RXQ+4], 0
  mov dword [RXQ+8], 4096
  mov word [RXQ+12], 2
  mov dword [TXQ], TXBUF
  mov dword [TXQ+4], 0
  mov word [TXQ+12], 0
  xor ebx, ebx                     ; bx: receive buffers posted and consumed so far
post:
  mov ecx, ebx
  and ecx, 7
  mov word [RXQ+0x1000+4+ecx*2], 0 ; avail.ring[idx % 8] = desc 0
  lea eax, [ebx+1]
  mov word [RXQ+0x1000+2], ax      ; avail.idx = idx + 1
  mov dword [MMIO+0x50], 0         ; notify receiveq
poll:
  out 0x80, al                     ; an exit per poll
  mov ax, [RXQ+0x2000+2]           ; used.idx of receiveq
  cmp ax, bx
  je poll
  mov eax, [MMIO+0x60]             ; acknowledge any interrupt
  mov [MMIO+0x64], eax
  mov ecx, ebx
  and ecx, 7
  mov ecx, [RXQ+0x2000+8+ecx*8]    ; used.ring[idx % 8].len
  mov esi, RXBUF
  mov edi, TXBUF
  mov [TXQ+8], ecx
  cld
  rep movsb                        ; copy out, so the receive buffer can be posted again
  mov ecx, ebx
  and ecx, 7
  mov word [TXQ+0x1000+4+ecx*2], 0 ; avail.ring[idx % 8] = desc 0
  lea eax, [ebx+1]
  mov word [TXQ+0x1000+2], ax
  mov dword [MMIO+0x50], 1         ; notify transmitq: the host consumes it during this exit
hang:
  jmp hang                         ; spin forever, never exiting to the VMM again
fail:
  mov eax, 0xbad
  hlt
