; Real mode at 0x1000: print "real\n" on COM1 (polling LSR), read port 0x510, add 1, write the
; result to port 0x511, then halt with 0x1234 in AX.
bits 16
org 0x1000
  mov si, msg
next:
  mov dx, 0x3fd           ; LSR
poll:
  in al, dx
  test al, 0x20           ; THR empty?
  jz poll
  lodsb
  test al, al
  jz done
  mov dx, 0x3f8
  out dx, al
  jmp next
done:
  mov dx, 0x510
  in al, dx
  inc al
  inc dx
  out dx, al
  mov ax, 0x1234
  hlt
msg: db "real", 10, 0
