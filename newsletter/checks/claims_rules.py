"""What the claims check looks for (claims.py applies it): the claim patterns of each category and
the cues that mark careful writing about a claim (NegEx/ConText-style: negation, attribution and
quotation, criticism and warnings, hedges, official terms).

A pattern is a string of token specs, matched on spaCy lemmas (lower-cased):
``a|b`` any of these lemmas, ``=a|b`` these exact words, ``~`` up to three other tokens,
``#`` a number, a trailing ``?`` makes a spec optional."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

CATEGORIES = {
    "cure": "cure or permanence",
    "safety": "absolute safety",
    "efficacy": "universal or numeric efficacy",
    "guarantee": "guarantee or promise",
    "advice": "advice to change medication or care",
    "prediction": "prediction presented as fact",
    "superiority": "unqualified superiority",
    "authority": "borrowed authority",
}


@dataclass(frozen=True)
class Rule:
    name: str
    category: str
    severity: Severity  # error: a high-confidence claim, it blocks a real send
    patterns: tuple[str, ...]
    why: str
    rewrite: str  # how to say it carefully
    needs: str = ""  # "imperative": the verb starts a clause or follows "you should"; "speaker": we/our/you in the sentence
    hedgeable: bool = True  # a hedge ("may", "whether", "some") makes the sentence careful reporting
    study_context_ok: bool = False  # a trial's reported result (placebo, participants, week 4) is careful


MEDS = "medication|medicine|med|meds|pill|antidepressant|ssri|ssris|snri|snris|prescription|lithium|sertraline|prozac|fluoxetine|dose|drug|benzodiazepine"
CARE = "therapy|therapist|psychotherapy|counselling|counseling|counsellor|counselor|psychiatrist|doctor|cbt|treatment|appointment|talk"
CONDITIONS = "depression|ptsd|anxiety|trauma|addiction|symptom|memory|pain|flashback|nightmare|despair|illness|disorder|damage"
COMPARATORS = "any|all|every|other|existing|traditional|conventional|standard|antidepressant|ssri|ssris|prozac|lithium|therapy|cbt|medication|drug|treatment|pill"
AGENCY = "fda|agency|regulator|ema|mhra|tga|dea|congress|government|medicare|medicaid|nhs|insurer|insurance|nice|parliament|europe"

RULES: tuple[Rule, ...] = (
    # --- cure and permanence
    Rule("cure", "cure", "error", ("cure",), "says the treatment cures, which no trial of it has shown", "say what the trial measured: 'reduced symptoms of … in a trial of N people'"),
    Rule("miracle", "cure", "error", ("=miracle|miraculous",), "calls a treatment a miracle", "describe the measured effect instead"),
    Rule("heal", "cure", "warning", ("=heal|heals|healed",), "says the treatment heals a condition", "'eased symptoms for some participants'"),
    Rule("erase", "cure", "warning", ("erase|eradicate|eliminate|banish|wipe|end|resolve|conquer|defeat ~ " + CONDITIONS,), "says a condition is erased or ended", "'reduced … in some participants'"),
    Rule("reverse", "cure", "warning", ("reverse|undo|repair ~ damage|effect|depression|trauma",), "says the treatment reverses damage", "'was associated with changes in …' and cite the study"),
    Rule("permanent", "cure", "error", ("for good", "for life", "once and for all", "=permanently", "permanent fix|cure|relief|solution|reset|change|end",
                                    "long -? =lasting fix|cure|relief|solution|recovery|remission|end", "=lasting|lifelong|durable fix|cure|relief|solution|recovery|remission|end", "=never come|comes|came|return|returned|returns back?"),
         "says the effect is permanent, but follow-up in these trials lasted months", "'in the 12 months of follow-up' or 'symptoms returned for some'"),
    Rule("vanish", "cure", "warning", (CONDITIONS + " ~ vanish|disappear|evaporate", "say goodbye to", "=forever", "never again suffer|feel", "=never have|having|feel|suffer another|again", "=never need|needs|suffer|struggle|relapse|worry|return ~ again"),
         "says a condition goes away for good", "'symptoms eased for some participants during the trial'"),
    Rule("free-of", "cure", "warning", ("=free of|from ~ " + CONDITIONS, CONDITIONS + " - free", "=trauma-free|depression-free|anxiety-free|ptsd-free|pain-free"), "says people end up free of a condition", "'no longer met the criteria for … at the end of the trial'"),
    # --- absolute safety
    Rule("safe-absolute", "safety", "error", ("completely|totally|perfectly|entirely|absolutely|fully|100 %? safe", "100 percent safe", "safe for everyone|everybody|anyone|all"),
         "says a treatment is completely safe; every active treatment has risks", "'the most common side effects in the trials were …'"),
    Rule("no-side-effects", "safety", "error", ("no known? side -? effect", "wo|will|does|do n't|not cause|have any? side -? effect", "without ~ side -? effect", "no adverse effect", "side -? effect -? free", "=side-effect-free", "free of|from side -? effect"),
         "says there are no side effects", "name the side effects the trials reported"),
    Rule("no-risk", "safety", "error", ("no risk|danger|downside", "zero risk", "risk -? free", "=risk-free", "carry|carries no risk", "without any? risk", "free of|from ~ risk|danger|harm", "nothing dangerous|risky|harmful|unsafe"),
         "says there is no risk", "name the risks and how often they occurred"),
    Rule("non-addictive", "safety", "error", ("non - addictive", "=non-addictive", "not addictive", "no risk of dependence|addiction|misuse|abuse"),
         "says the drug cannot be addictive", "'misuse and dependence are possible; clinics limit …'"),
    Rule("harmless", "safety", "warning", ("harmless", "non -? toxic", "=non-toxic", "none of the risk|danger|side", "safe to use|take every|daily|forever|indefinitely", "=cannot|can't harm|hurt", "ca n't harm|hurt", "can not harm|hurt", "nothing to worry about", "no lasting|long - term|harmful effect"),
         "says the treatment cannot harm", "name the harms reported and who was excluded from the trials"),
    Rule("safe-slogan", "safety", "warning", ("=safe . ? , ? natural|gentle|fast|effective",), "advertises safety as a slogan", "say what the trials found about harms"),
    # --- universal or numeric efficacy
    Rule("works-for-all", "efficacy", "error", ("work|effective|help for|in everyone|everybody|anyone|all|every", "work every time", "help|work|benefit everyone|everybody|anyone", "=never fails|fail", "will work for you", "work|effective for|in # %"),
         "says it works for everyone; in every trial some people did not respond", "'about N in 10 participants responded in the trial'"),
    Rule("all-patients", "efficacy", "warning", ("every single one", "=nearly|almost|virtually all|every patient|people|person|client|veteran|sufferer|customer|user|one", "every single? patient|client|veteran|sufferer|customer|person", "whatever your diagnosis", "everyone|everybody|anyone who ~ feel|get|improve|recover|benefit|respond|heal", "work for all type"),
         "says (nearly) every patient benefits", "give the trial's figure with its comparison group"),
    Rule("hundred-percent", "efficacy", "error", ("100 % success|effective|of|response|result|remission", "100 percent"), "claims a 100% result, which no trial has reported", "'X% of participants responded in the trial, against Y% on placebo'"),
    Rule("numeric", "efficacy", "error", ("# in|out of? #", "success rate", "relapse rate : ? zero|0", "# % of our", "# % ~ symptom - free", "# % ~ remission|recover|cure"),
         "states a success figure without the study, the comparison or the time", "'in a trial of N people, X% on the drug and Y% on placebo …'", study_context_ok=True),
    # --- guarantees and promises
    Rule("guarantee", "guarantee", "error", ("guarantee", "=guaranteed", "money back", "refund", "rest assured", "be assured", "is assured", "ensure|ensures you"),
         "guarantees a result no one can guarantee", "'some people improve; we will talk through what the studies show'", hedgeable=False),
    Rule("promise", "guarantee", "error", ("promise",), "promises a result", "'some people improve; we cannot promise that you will'", needs="speaker", hedgeable=False),
    Rule("you-will", "guarantee", "warning", ("you will|'ll feel|be|wake|see|notice|never|get|sleep|find|walk|leave", "your ~ will lift|disappear|vanish|go|end|fade", "you be certain|sure|bound|guaranteed to", "you can count|rely on", "give you your life back", "feel better in|within #", "we will|'ll get|make you better|well", "will be gone|history|over", "or it 's|is free", "or your money back"),
         "promises the reader a result", "'some participants reported …'", hedgeable=False),
    # --- advice to change medication or care
    Rule("stop-meds", "advice", "error", ("stop|quit|taper|switch|ditch|discontinue|halve|wean|skip|cancel|reduce|cut|replace|forget off|from|down|out? ~ " + MEDS + "|" + CARE, "stop|quit|taper|ditch|discontinue|wean|skip off? =taking|using? them|these|those", "come|get off ~ " + MEDS + "|them", "throw away|out ~ " + MEDS, "leave ~ " + MEDS + " behind"),
         "tells readers to change their medication or care", "'talk to your prescriber before changing any medicine'", needs="imperative", hedgeable=False),
    Rule("no-need", "advice", "error", ("do|does|will|wo n't|not need ~ " + CARE + "|" + MEDS + "|them", "no longer need ~ " + CARE + "|" + MEDS, "no need for|to ~ " + CARE + "|" + MEDS, "instead of your|taking ~ " + MEDS + "|" + CARE, "do n't|not bother with ~ " + MEDS + "|" + CARE, "forget about ~ " + MEDS + "|" + CARE),
         "tells readers they do not need their treatment or clinician", "'this treatment was given alongside …, not instead of it'", hedgeable=False),
    Rule("consider-stopping", "advice", "error", ("consider|try =stopping|quitting|tapering|switching|skipping|dropping|reducing ~ " + MEDS + "|" + CARE,),
         "suggests readers change their medication or care", "'talk to your prescriber before changing any medicine'", hedgeable=False),
    Rule("replaces-care", "advice", "warning", ("=replaces|replaced|replace ~ year|month of? ~ " + CARE + "|" + MEDS + "|session", "why keep pay|take|see ~ " + CARE + "|" + MEDS),
         "presents a treatment as a replacement for care the reader has", "'was given alongside …, not instead of it'", hedgeable=False),
    # --- predictions presented as fact
    Rule("agency-will", "prediction", "error", (AGENCY + " will|'ll|wo approve|authorise|authorize|legalise|legalize|cover|reschedule|allow|follow|lift|say", AGENCY + " be|are go to approve|cover|authorise|authorize|legalise|legalize|reschedule|allow|lift|pay|fund|reimburse"),
         "states a regulator's or payer's future decision as fact", "'the FDA has not said when it will decide'"),
    Rule("will-be", "prediction", "error", ("will soon|definitely|certainly|surely|undoubtedly? be the? approve|legal|legalise|legalize|available|cover|authorise|authorize|reschedule|lift|offer|standard|prescribe|norm|future",),
         "states a future approval or availability as fact", "'could become available if regulators approve it'"),
    Rule("certain", "prediction", "error", ("set|poised|due|sure|certain|bound to be? approve|legal|legalise|legalize|available|cover|authorise|authorize|reschedule|pay|fund|reimburse", "approval|decision|legalisation|legalization be certain|inevitable|guarantee|assured", "matter of time", "done deal", "coming in #"),
         "presents a future decision as certain", "'no decision has been announced'"),
    Rule("will-become", "prediction", "warning", ("will soon|definitely|certainly|surely? replace|become|confirm|prove|transform|revolutionise|revolutionize|end|follow", "every|all ~ will prescribe|offer|use|recommend|provide", "be come to your|a ~ clinic|pharmacy|hospital|gp|doctor"), "states what the future holds as fact", "'may', 'could', or who predicts it"),
    Rule("going-to", "prediction", "warning", ("be =going|about|set|bound|poised to approve|confirm|become|replace|transform|prove|revolutionise|revolutionize|overtake|legalise|legalize|reshape|upend",
                                                  "be =going|about|set|bound|poised to change ~ psychiatry|medicine|everything|field|care|treatment|world|psychotherapy"),
         "states what the future holds as fact", "'may', 'could', or who predicts it"),
    # --- unqualified superiority
    Rule("better-than", "superiority", "error", ("better|effective|superior|stronger|faster|powerful|well than|to ~ " + COMPARATORS, "twice|thrice as well|effective|good as ~ " + COMPARATORS, "superior to any|all|every|ssri|ssris|antidepressant|other"),
         "says it beats other treatments without a head-to-head trial", "'in one trial it did better than placebo; it has not been compared with …'", study_context_ok=True),
    Rule("outperform", "superiority", "warning", ("outperform|outdo|beat|surpass|trump", "gold -? standard", "=gold-standard", "ahead of any|all|every|other", "why settle for"), "says it beats other treatments", "name the comparison the trial made (usually placebo)", study_context_ok=True),
    Rule("the-best", "superiority", "error", ("the|our most effective|powerful|successful treatment|therapy|option|way|antidepressant|medicine|drug", "most effective|powerful|successful ~ ever", "the best|#1 treatment|therapy|option|way|cure", "the|our best ~ treatment|therapy|clinic|care|infusion|programme|program|antidepressant|medicine", "=number one|#1 treatment|therapy", "the only ~ that ~ work", "nothing work well|faster|better", "nothing ~ compare to|with", "no other ~ come close", "nothing|=nobody beat|rival|outperform|top|match"),
         "calls it the best or the only treatment", "'one of the options studied for …'", study_context_ok=True),
    # --- borrowed authority
    Rule("proven", "authority", "error", ("clinically|scientifically|medically prove|validate|test", "research|researcher|science|scientist|study ~ prove", "science be settle", "validate by science"),
         "claims proof or validation that the evidence does not give", "cite the study and say what it found", hedgeable=False),
    Rule("approved-by", "authority", "error", ("doctor|physician|psychiatrist|expert|scientist - approve|recommend|endorse|back|trust", "=doctor-approved|doctor-recommended"),
         "borrows the authority of doctors for a product", "name who reviewed what, and cite the guideline if there is one", hedgeable=False),
    Rule("backed-by", "authority", "warning", ("approve|back|endorse|recommend|trust|develop|validate by ~ science|research|doctor|expert|neuroscientist|psychiatrist|thousand|professional",
                                                 "endorse|back|recommend|trust|champion by ~ " + AGENCY, "science - back", "=as featured|seen in", "expert|doctor|psychiatrist|scientist|neuroscientist|researcher have? agree|recommend|confirm|trust|endorse|choose|prefer"),
         "leans on unnamed experts or 'science'", "name the source and what it found"),
)

# Careful writing: a claim inside one of these frames is reported, not made. Cue words are lemmas;
# phrases are matched on the lower-cased words of the sentence.
NEGATION = {"no", "not", "n't", "never", "without", "none", "nothing", "nobody", "neither", "nor", "cannot", "lack", "absence", "unlikely", "fail"}
NEGATION_PHRASES = ("far from", "no one", "rather than")
PSEUDO_NEGATION = (("not", "only"), ("not", "just"), ("no", "doubt"), ("no", "wonder"), ("no", "matter"), ("no", "mistake"))
CLAUSE_END = {";", ":", "but", "however", "although", "though", "while", "whereas", "because", "—", "–", "(", ")"}
CONDITIONAL_LEADS = {"if", "when", "unless", "once", "since", "as", "whether"}  # a negation in such a clause stops at its comma
NEGATION_WINDOW = 8
HEDGES = {
    "may", "might", "could", "would", "possibly", "potentially", "perhaps", "appear", "seem", "suggest", "likely", "probably", "unclear",
    "unknown", "whether", "if", "hope", "expect", "plan", "aim", "early", "preliminary", "some", "uncertain", "promising", "encouraging",
    "predict", "forecast", "speculate", "investigate", "explore",
}
HEDGE_PHRASES = ("too early", "too soon", "open question", "not known", "remains to be seen", "more research", "is studying", "are studying")
ATTRIBUTION = {
    "say", "tell", "write", "report", "state", "argue", "claim", "call", "describe", "tout", "market", "advertise", "bill", "label", "allege",
    "promote", "headline", "advert", "advertisement", "ad", "tabloid", "press", "marketing", "slogan", "influencer", "promotional",
    "website", "spokesperson", "according", "caption", "brochure", "hear", "quote",
}
ATTRIBUTION_PHRASES = ("so-called", "so - called")
CRITICISM = {
    "wary", "careful", "cautious", "caution", "sceptical", "skeptical", "beware", "warning", "warn", "avoid", "misleading", "mislead",
    "myth", "false", "untrue", "exaggerate", "exaggeration", "overstate", "hype", "ignore", "wrong", "unfounded", "dubious", "scam",
    "suspicious", "distrust", "unsupported", "unproven", "dangerous", "illegal", "complaint",
}
CRITICISM_PHRASES = (
    "any provider", "any clinic", "any website", "any company", "anyone who", "anyone that", "clinics that", "clinics which", "clinics who",
    "providers that", "providers who", "websites that", "no study supports", "does not support", "do not support", "red flag", "watch out",
    "watch for", "look out for", "warning sign",
)
# A report of a sanction or complaint about someone's claim ("regulators fined operators for promising
# guaranteed healing") is criticism of the claim: a sanction word, then "for|over|after" and a claiming verb.
SANCTIONS = {"fine", "sanction", "penalise", "penalize", "prosecute", "sue", "ban", "reprimand", "censure", "charge", "complaint", "crackdown", "investigation", "lawsuit", "rebuke", "order"}
SANCTION_LINKS = {"for", "over", "after", "about"}
CLAIMING = {"promising", "claiming", "advertising", "marketing", "offering", "selling", "making", "telling", "suggesting", "implying", "saying", "touting", "promoting", "using"}
SANCTION_WINDOW = 8
# "appear" and "seem" hedge ("appears to work"), not where they mean "show up" ("results appear from the first session").
NOT_HEDGING_AFTER_APPEAR = {"from", "in", "on", "at", "within", "after", "during", "by", "overnight", "immediately", "quickly", "fast", "straight"}
# A hedge or a condition governs its own clause: it stops at these (a colon ends "if that sounds like
# you, here's the good news: it will work for you").
HEDGE_SCOPE_END = {";", ":", "—", "–", "but", "however"}
# A yes/no question asks rather than claims ("Is psilocybin more effective than SSRIs?"), unless it is
# a negative or "did you know" question, which asserts.
QUESTION_LEADS = {"is", "are", "was", "were", "do", "does", "did", "can", "could", "will", "would", "should", "has", "have", "might", "may"}
# A promise or refund about how we work, not about an outcome ("we promise to explain the risks",
# "our refund policy covers cancelled appointments").
PROCESS_WORDS = {"explain", "discuss", "listen", "answer", "honest", "screen", "monitor", "review", "respect", "confidential", "privacy", "history", "appointment", "cancel", "cancellation", "booking", "deposit", "fee", "policy", "reschedule", "consultation"}
OUTCOME_WORDS = {"better", "well", "relief", "result", "cure", "recover", "recovery", "remission", "heal", "free", "work", "improve", "change", "symptom", "life", "outcome", "happy", "happier", "benefit", "effect"}
EVIDENCE_COMPOUNDS = {"studied", "researched", "known", "understood", "tested", "documented", "established", "evidenced"}  # "best-studied"
FIRST_PERSON = {"we", "our", "us", "i", "my", "ours", "me"}
SPEAKERS = FIRST_PERSON | {"you", "your"}
STUDY_CONTEXT = {"trial", "study", "placebo", "participant", "compare", "versus", "vs", "group", "arm", "week", "author", "paper", "publish", "review", "meta", "analysis", "found", "find", "report", "dose", "cohort", "sample"}
IMPERATIVE_LEADS = {"today", "just", "simply", "so", "then", "and", "please", "now", "time", "to", "it", "'s", "finally", "go", "ahead", "safely", "also", "immediately"}
MODALS = {"can", "should", "could", "must", "may", "need", "ought", "to", "might"}
# Official names that contain claim words: masked before matching.
OFFICIAL_TERMS = (
    "breakthrough therapy designation", "breakthrough therapy", "fast track", "priority review", "accelerated approval", "complete response letter",
    "risk evaluation and mitigation strategy", "orphan drug", "expanded access", "right to try",
)
