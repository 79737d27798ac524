; Long mode: ECX port writes to 0x512, then halt. The exit round-trip benchmark and the stop
; test count these.
bits 64
org 0x200000
again:
  mov dx, 0x512
  out dx, al
  dec ecx
  jnz again
  hlt
