; 64-bit long mode at 0x200000 (identity-mapped 2 MiB pages): print "long\n", store a 64-bit
; marker in the last page of a 64 MiB guest, halt with RAX = the marker read back and RBX = a
; value only 64-bit code can form.
bits 64
org 0x200000
  lea rsi, [rel msg]
  mov dx, 0x3f8
next:
  lodsb
  test al, al
  jz done
  out dx, al
  jmp next
done:
  mov rax, 0x1122334455667788
  mov rdi, 0x3fffff8
  mov [rdi], rax
  mov rax, [rdi]
  mov rbx, 0xfedcba9876543210
  hlt
msg: db "long", 10, 0
