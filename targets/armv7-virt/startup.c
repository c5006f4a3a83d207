/* binedge armv7-virt startup: qemu-system-arm -M virt -cpu cortex-a15, bare metal (AArch32,
 * ARMv7-A, PL1 SVC mode: the virt board has no Hyp/Secure state unless asked for).
 * Reset_Handler (ARM state) sets the stack pointer, gives PL1/PL0 access to CP10/CP11
 * (CPACR) and turns the VFP/NEON unit on (FPEXC.EN; without both the first NEON instruction
 * is undefined), installs the vector table (VBAR) and calls be_virt_reset()
 * (targets/common/board_virt.c: .data, .bss, MMU, stack paint, main, semihosting exit).
 * Vector table: 8 ARM branches, 32-byte aligned. Undefined instruction, prefetch abort, data
 * abort and the unexpected ones report (fault status, faulting pc, fault address) on a fresh
 * stack and exit with BE_TARGET_EXIT_FAULT. Semihosting calls (SVC 0xAB / 0x123456) are taken
 * by QEMU before the SVC vector.
 */
__asm__(".syntax unified\n\t"
        ".arch armv7-a\n\t"
        ".fpu neon\n\t"
        ".section .vectors, \"ax\", %progbits\n\t"
        ".arm\n\t"
        ".balign 32\n\t"
        ".global be_a32_vectors\n"
        "be_a32_vectors:\n\t"
        "b Reset_Handler\n\t"
        "b be_a32_undef\n\t"
        "b be_a32_other\n\t"
        "b be_a32_pabt\n\t"
        "b be_a32_dabt\n\t"
        "b be_a32_other\n\t"
        "b be_a32_other\n\t"
        "b be_a32_other\n"
        "be_a32_undef:\n\t"
        "mov r0, #1\n\t"
        "mov r1, #0\n\t"
        "sub r2, lr, #4\n\t"
        "mov r3, #0\n\t"
        "b be_a32_report\n"
        "be_a32_pabt:\n\t"
        "mov r0, #3\n\t"
        "mrc p15, 0, r1, c5, c0, 1\n\t" /* IFSR */
        "sub r2, lr, #4\n\t"
        "mrc p15, 0, r3, c6, c0, 2\n\t" /* IFAR */
        "b be_a32_report\n"
        "be_a32_dabt:\n\t"
        "mov r0, #4\n\t"
        "mrc p15, 0, r1, c5, c0, 0\n\t" /* DFSR */
        "sub r2, lr, #8\n\t"
        "mrc p15, 0, r3, c6, c0, 0\n\t" /* DFAR */
        "b be_a32_report\n"
        "be_a32_other:\n\t"
        "mrs r0, cpsr\n\t"
        "and r0, r0, #0x1f\n\t"         /* the mode tells which */
        "mov r1, #0\n\t"
        "mov r2, lr\n\t"
        "mov r3, #0\n"
        "be_a32_report:\n\t"
        "ldr sp, =be_fault_stack + 2048\n\t"
        "ldr r12, =be_fault_report\n\t"
        "blx r12\n"
        "1:\tb 1b\n\t"
        ".ltorg\n\t"
        "\n\t"
        ".text\n\t"
        ".arm\n\t"
        ".global Reset_Handler\n\t"
        ".type Reset_Handler, %function\n"
        "Reset_Handler:\n\t"
        "cpsid aif\n\t"
        "ldr sp, =__stack_top\n\t"
        "mrc p15, 0, r0, c1, c0, 2\n\t" /* CPACR: CP10, CP11 full access */
        "orr r0, r0, #(0xf << 20)\n\t"
        "mcr p15, 0, r0, c1, c0, 2\n\t"
        "isb\n\t"
        "mov r0, #0x40000000\n\t"       /* FPEXC.EN */
        "vmsr fpexc, r0\n\t"
        "ldr r0, =be_a32_vectors\n\t"
        "mcr p15, 0, r0, c12, c0, 0\n\t" /* VBAR */
        "mrc p15, 0, r0, c1, c0, 0\n\t"  /* SCTLR: V=0 (VBAR), TE=0 (exceptions in ARM state) */
        "bic r0, r0, #(1 << 13)\n\t"
        "bic r0, r0, #(1 << 30)\n\t"
        "mcr p15, 0, r0, c1, c0, 0\n\t"
        "isb\n\t"
        "ldr r12, =be_virt_reset\n\t"
        "blx r12\n"
        "2:\tb 2b\n\t"
        ".ltorg\n\t"
        ".size Reset_Handler, . - Reset_Handler\n");
