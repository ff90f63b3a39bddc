/* harness.c: a main() for a model compiled with `--name m`: reads
 * M_INPUT_SIZE float32 values from stdin, runs m_run, writes M_OUTPUT_SIZE
 * float32 values to stdout (host byte order; the tests run on the host).
 * A model compiled with `--weights file` (m.h defines M_WEIGHTS_BYTES)
 * reads its weights from the file named by argv[1].
 * Exit status 3: short input, 4: write error, 5: weights missing or short.
 */
#include <stdio.h>
#include <stdlib.h>

#include "m.h"

static float input[M_INPUT_SIZE];
static float output[M_OUTPUT_SIZE];

int main(int argc, char **argv)
{
    if (fread(input, sizeof input[0], M_INPUT_SIZE, stdin) != M_INPUT_SIZE)
        return 3;
#ifdef M_WEIGHTS_BYTES
    float *weights = malloc(M_WEIGHTS_BYTES + sizeof(float));
    FILE *wf = argc > 1 ? fopen(argv[1], "rb") : NULL;
    if (!weights || !wf || fread(weights, 1, M_WEIGHTS_BYTES, wf) != (size_t)M_WEIGHTS_BYTES)
        return 5;
    fclose(wf);
    m_run(weights, input, output);
    free(weights);
#else
    (void)argc, (void)argv;
    m_run(input, output);
#endif
    if (fwrite(output, sizeof output[0], M_OUTPUT_SIZE, stdout) != M_OUTPUT_SIZE)
        return 4;
    return fflush(stdout) == 0 ? 0 : 4;
}
