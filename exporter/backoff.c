/* Reconnect backoff arithmetic (see backoff.h). */
#include "backoff.h"

void backoff_fail(struct backoff *b, double now)
{
	b->delay = b->delay ? b->delay * 2 : 1;
	if (b->delay > BACKOFF_MAX)
		b->delay = BACKOFF_MAX;
	b->next = now + b->delay;
}

void backoff_reset(struct backoff *b)
{
	b->delay = 0;
	b->next = 0;
}

double backoff_left(const struct backoff *b, double now)
{
	return now < b->next ? b->next - now : 0;
}
