"""The default glossary of the jargon check (readability.py): terms a lay reader of a research
summary is unlikely to know, flagged unless explained at first use. ``[checks] glossary``
replaces the list, ``extra_glossary`` adds to it and ``glossary_remove`` takes terms out."""

DEFAULT_GLOSSARY = (
    # trial design
    "placebo-controlled",
    "double-blind",
    "open-label",
    "crossover",
    "intention-to-treat",
    "per-protocol",
    "washout",
    "functional unblinding",
    "expectancy",
    "primary endpoint",
    "secondary endpoint",
    "meta-analysis",
    # measures and statistics
    "CAPS-5",
    "PCL-5",
    "MADRS",
    "HAM-D",
    "PHQ-9",
    "effect size",
    "Cohen's d",
    "confidence interval",
    "p-value",
    "statistically significant",
    "odds ratio",
    "hazard ratio",
    "standard deviation",
    "least-squares mean",
    "LS mean",
    "remission",
    "response rate",
    # safety
    "QT",
    "adverse event",
    "treatment-emergent",
    "dissociation",
    "abuse potential",
    # regulation
    "complete response letter",
    "new drug application",
    "REMS",
    "HREC",
    "Schedule I",
    "Breakthrough Therapy designation",
    "off-label",
    "treatment-resistant depression",
)
