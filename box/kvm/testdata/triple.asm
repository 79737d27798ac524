; Long mode: an undefined opcode with an empty IDT faults, the fault cannot be delivered, and the
; double fault neither: a triple fault, which KVM reports as KVM_EXIT_SHUTDOWN.
bits 64
org 0x200000
  ud2
