; A guest that never exits: real mode, a jump to itself. Only killing its VMM ends it.
bits 16
org 0x1000
  jmp $
