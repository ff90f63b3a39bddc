/* harness.c: a main() for a model compiled with `--name m`: reads
 * M_INPUT_SIZE float32 values from stdin, runs m_run, writes M_OUTPUT_SIZE
 * float32 values to stdout (host byte order; the tests run on the host).
 * Exit status 3: short input, 4: write error.
 */
#include <stdio.h>

#include "m.h"

static float input[M_INPUT_SIZE];
static float output[M_OUTPUT_SIZE];

int main(void)
{
    if (fread(input, sizeof input[0], M_INPUT_SIZE, stdin) != M_INPUT_SIZE)
        return 3;
    m_run(input, output);
    if (fwrite(output, sizeof output[0], M_OUTPUT_SIZE, stdout) != M_OUTPUT_SIZE)
        return 4;
    return fflush(stdout) == 0 ? 0 : 4;
}
