#include "stream_end.h"

#include <errno.h>

int pp_stream_end(FILE *out)
{
	if (fflush(out) == EOF || ferror(out)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}
