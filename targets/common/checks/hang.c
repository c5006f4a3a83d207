/* binedge target check: never returns; the runner's timeout must kill QEMU. */
#include <stdio.h>

static volatile unsigned spin;

int main(void)
{
    printf("hang: spinning forever\n");
    for (;;) spin++;
}
