/* binedge aarch64-virt startup: qemu-system-aarch64 -M virt -cpu cortex-a53, bare metal at EL1.
 * QEMU loads the ELF and enters Reset_Handler at EL1 (the virt board has no EL2/EL3 unless
 * asked for). Reset_Handler sets the stack pointer (SP_EL1), gives EL1/EL0 access to the
 * FP/Advanced SIMD registers (CPACR_EL1.FPEN; without it the first NEON instruction traps),
 * installs the vector table and calls be_virt_reset() (targets/common/board_virt.c: .data,
 * .bss, MMU, stack paint, main, semihosting exit).
 * Vector table: 16 entries of 128 bytes, 2 KiB aligned (VBAR_EL1). Every entry reports the
 * exception (ESR_EL1, ELR_EL1, FAR_EL1) on a fresh stack and exits with BE_TARGET_EXIT_FAULT.
 */
#define BE_VEC(n) ".balign 128\n\tmov x0, #" #n "\n\tb be_a64_exception\n\t"

__asm__(".section .vectors, \"ax\", %progbits\n\t"
        ".balign 2048\n\t"
        ".global be_a64_vectors\n"
        "be_a64_vectors:\n\t"
        BE_VEC(0) BE_VEC(1) BE_VEC(2) BE_VEC(3) BE_VEC(4) BE_VEC(5) BE_VEC(6) BE_VEC(7)
        BE_VEC(8) BE_VEC(9) BE_VEC(10) BE_VEC(11) BE_VEC(12) BE_VEC(13) BE_VEC(14) BE_VEC(15)
        "\n"
        "be_a64_exception:\n\t"
        "mrs x1, esr_el1\n\t"
        "mrs x2, elr_el1\n\t"
        "mrs x3, far_el1\n\t"
        "adrp x4, be_fault_stack + 2048\n\t"
        "add x4, x4, :lo12:be_fault_stack + 2048\n\t"
        "mov sp, x4\n\t"
        "bl be_fault_report\n"
        "1:\tb 1b\n\t"
        "\n\t"
        ".text\n\t"
        ".global Reset_Handler\n\t"
        ".type Reset_Handler, %function\n"
        "Reset_Handler:\n\t"
        "msr daifset, #0xf\n\t"
        "adrp x0, __stack_top\n\t"
        "add x0, x0, :lo12:__stack_top\n\t"
        "mov sp, x0\n\t"
        "mrs x0, cpacr_el1\n\t"
        "orr x0, x0, #(3 << 20)\n\t"
        "msr cpacr_el1, x0\n\t"
        "adrp x0, be_a64_vectors\n\t"
        "add x0, x0, :lo12:be_a64_vectors\n\t"
        "msr vbar_el1, x0\n\t"
        "isb\n\t"
        "bl be_virt_reset\n"
        "2:\tb 2b\n\t"
        ".size Reset_Handler, . - Reset_Handler\n");
