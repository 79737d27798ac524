; 32-bit protected mode at 0x100000 (flat segments, paging off): print "prot\n", store a marker
; in the last page of a 16 MiB guest, halt with EAX = the value read back.
bits 32
org 0x100000
  mov esi, msg
  mov dx, 0x3f8
next:
  lodsb
  test al, al
  jz done
  out dx, al
  jmp next
done:
  mov dword [0xfffff0], 0xc0ffee32
  mov eax, [0xfffff0]
  hlt
msg: db "prot", 10, 0
