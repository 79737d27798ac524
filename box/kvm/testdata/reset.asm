; Real mode: ask the i8042 to pulse the reset line, as Linux's reboot does.
bits 16
org 0x1000
  mov al, 0xfe
  out 0x64, al
  hlt
