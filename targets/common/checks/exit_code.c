/* binedge target check: main's return value must reach the host as the exit
 * status (Cortex-M: semihosting SYS_EXIT_EXTENDED; plain SYS_EXIT only
 * carries success/failure). Build with -DEXIT_CODE=n (default 3). */
#include <stdio.h>

#ifndef EXIT_CODE
#define EXIT_CODE 3
#endif

int main(void)
{
    printf("exit_code: returning %d\n", EXIT_CODE);
    return EXIT_CODE;
}
