/*
 * Rendering metric sets in the Prometheus text format 0.0.4 and in
 * OpenMetrics 1.0: escaping, number formatting, one HELP/TYPE per family,
 * families contiguous even when several sets contribute to one family.
 */
#ifndef EXPFMT_H
#define EXPFMT_H

#include "metrics.h"
#include "sb.h"

enum expfmt_format { EXPFMT_TEXT, EXPFMT_OPENMETRICS };

#define EXPFMT_TEXT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define EXPFMT_OPENMETRICS_TYPE                                                \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"

/*
 * Append the families of 'sets' (in order; NULL entries are skipped) to
 * 'out'. Families of the same name from several sets are printed as one:
 * HELP and TYPE from the first, then the samples of each set in order. A
 * family whose type differs from the first one of that name is left out,
 * and so is one that would print a name an earlier family prints (gauge
 * 'h_count' beside histogram 'h'; in OpenMetrics, gauge 'x' beside counter
 * 'x_total'). Families without samples are not printed. Families are
 * printed in order of first appearance. OpenMetrics output ends with
 * "# EOF\n". Only 'out' is allocated (its growth), never per sample.
 *
 * In OpenMetrics, counters drop _total and info metrics drop _info in HELP
 * and TYPE; a counter whose name lacks _total has TYPE unknown. In text
 * 0.0.4 info metrics are gauges.
 */
void expfmt_render(struct sb *out, struct mset *const *sets, size_t nsets,
		   enum expfmt_format fmt);

/* Labels every sample of one set gets when rendered (e.g. its target's). */
struct expfmt_labels {
	const struct label *v;
	size_t n;
};

/*
 * expfmt_render, with the labels extra[i] (NULL: none for any set)
 * appended to each sample of sets[i], as mset_merge would append them but
 * without copying a sample: a sample that already has a label of one of
 * those names is left out, and so is a set whose extra labels have an
 * invalid or repeated name. Values are made valid UTF-8 and escaped.
 * Samples of different sets are taken to be different series: give each
 * set extra labels that tell it apart (the target label). Between
 * families it calls sb_flush(out, false), so an 'out' with a flush set
 * (sb_set_flush) never holds the whole page.
 */
void expfmt_render_labeled(struct sb *out, struct mset *const *sets,
			   const struct expfmt_labels *extra, size_t nsets,
			   enum expfmt_format fmt);

/*
 * The shortest decimal that reads back as 'v' ("1", "0.1", "1.5e+20"), or
 * "NaN", "+Inf", "-Inf". Locale-independent.
 */
void expfmt_number(struct sb *out, double v);
/* Escape \, " and newline as the label value syntax requires. */
void expfmt_label_value(struct sb *out, const char *s);
/* Escape \ and newline as HELP text requires (text 0.0.4). */
void expfmt_help(struct sb *out, const char *s);

/*
 * Pick the format from an Accept header (NULL: text): OpenMetrics when
 * application/openmetrics-text (version 1.0.0, 0.0.1 or none) has a q above
 * 0 and not below that of text/plain; text otherwise.
 */
enum expfmt_format expfmt_negotiate(const char *accept);
const char *expfmt_content_type(enum expfmt_format fmt);

#endif
