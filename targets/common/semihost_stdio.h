/* semihost_stdio.h -- stdout / stderr of the QEMU boards through semihosting: a line buffer
 * flushed with one SYS_WRITE0 per line (one trap per line instead of one per character with
 * SYS_WRITEC), and picolibc's stdio streams on top of it. Included once, by the board file
 * (board.c, board_virt.c), after it defines be_sh_write0(). */
#ifndef BE_SEMIHOST_STDIO_H
#define BE_SEMIHOST_STDIO_H

#include <stdio.h>

static char be_outbuf[128];
static unsigned be_outlen;

static void be_out_flush(void)
{
    if (be_outlen) {
        be_outbuf[be_outlen] = '\0';
        be_sh_write0(be_outbuf);
        be_outlen = 0;
    }
}

static void be_out_putc(char c)
{
    be_outbuf[be_outlen++] = c;
    if (c == '\n' || be_outlen == sizeof be_outbuf - 1) be_out_flush();
}

#ifdef __PICOLIBC__
static int be_stdio_put(char c, FILE *f)
{
    (void)f;
    be_out_putc(c);
    return (unsigned char)c;
}
static int be_stdio_flush(FILE *f)
{
    (void)f;
    be_out_flush();
    return 0;
}
static FILE be_stdio = FDEV_SETUP_STREAM(be_stdio_put, NULL, be_stdio_flush, _FDEV_SETUP_WRITE);
FILE *const stdin = &be_stdio;
FILE *const stdout = &be_stdio;
FILE *const stderr = &be_stdio;
#endif

#endif /* BE_SEMIHOST_STDIO_H */
