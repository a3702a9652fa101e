"""What the claims check looks for (claims.py applies it): the claim patterns of each category and
the cues that mark careful writing about a claim (NegEx/ConText-style: negation, attribution and
quotation, criticism and warnings, hedges, official terms).

A pattern is a string of token specs, matched on spaCy lemmas (lower-cased):
``a|b`` any of these lemmas, ``=a|b`` these exact words, ``~`` up to three other tokens,
``#`` a number, ``##`` digits, a trailing ``?`` makes a spec optional."""

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

# What to write instead, for a claim the classifier found (no rule's words to go by).
CATEGORY_REWRITES = {
    "cure": "say what the trial measured and for how long: 'symptoms eased for some participants during the 12 weeks of the trial'",
    "safety": "name the side effects and risks the trials reported, and who was excluded",
    "efficacy": "give the trial's figure with its comparison group: 'X% on the drug against Y% on placebo'",
    "guarantee": "'some people improve; no one can promise that you will'",
    "advice": "'talk to your prescriber before changing any medicine or care'",
    "prediction": "'may', 'could', or who predicts it, and when a decision is due",
    "superiority": "name the comparison the trial made (usually placebo) and what it has not been compared with",
    "authority": "cite the study or the guideline and say what it found",
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
    block_needs: str = ""  # lemmas one of which the paragraph must hold ("drop it": a medicine named nearby)
    block_unless: str = ""  # lemmas that make the paragraph careful ("ask your prescriber")


MEDS = "medication|medicine|med|meds|pill|antidepressant|ssri|ssris|snri|snris|prescription|lithium|sertraline|prozac|fluoxetine|dose|drug|benzodiazepine|taper|regimen|methadone|suboxone|buprenorphine|naltrexone|script|refill|xanax|zoloft|lexapro|wellbutrin"
CARE = "therapy|therapist|psychotherapy|counselling|counseling|counsellor|counselor|psychiatrist|doctor|cbt|treatment|appointment|talk|prescriber|gp|physician|clinician|nurse|pharmacist"
# what a treatment is given with, which a claim says one can do without
SUPPORT = CARE + "|session|preparation|integration|supervision|facilitator|guide|screening|sitter|follow-up"
CONDITIONS = "depression|ptsd|anxiety|trauma|addiction|symptom|memory|pain|flashback|nightmare|despair|illness|disorder|damage|craving|urge|withdrawal|habit|demon|ocd|grief|panic"
COMPARATORS = "any|all|every|other|existing|traditional|conventional|standard|antidepressant|ssri|ssris|prozac|lithium|therapy|cbt|medication|drug|treatment|pill"
AGENCY = "fda|agency|regulator|ema|mhra|tga|dea|congress|government|medicare|medicaid|nhs|insurer|insurance|nice|parliament|europe"

RULES: tuple[Rule, ...] = (
    # --- cure and permanence
    Rule("cure", "cure", "error", ("cure",), "says the treatment cures, which no trial of it has shown", "say what the trial measured: 'reduced symptoms of … in a trial of N people'"),
    Rule("miracle", "cure", "error", ("=miracle|miraculous",), "calls a treatment a miracle", "describe the measured effect instead"),
    Rule("heal", "cure", "warning", ("=heal|heals|healed",), "says the treatment heals a condition", "'eased symptoms for some participants'"),
    Rule("erase", "cure", "warning", ("erase|eradicate|eliminate|banish|wipe|end|resolve|conquer|defeat ~ " + CONDITIONS,), "says a condition is erased or ended", "'reduced … in some participants'"),
    Rule("reverse", "cure", "warning", ("reverse|undo|repair ~ damage|effect|depression|trauma", "reset|rewire|reboot|restore|fix|heal ~ =brain|brains|mind|minds", "fix|fixes|fixed ~ " + CONDITIONS),
         "says the treatment repairs or resets the brain or fixes a condition", "'was associated with changes in …' and cite the study"),
    Rule("erased", "cure", "warning", (CONDITIONS + " be|are|is|get|gets|got ~ erase|eliminate|wipe|banish|cure|fix|gone|over|history|done|finished|ended|behind", "get rid of ~ " + CONDITIONS, "=no more " + CONDITIONS, "a thing of the past", CONDITIONS + " ~ stop|stops|cease|ceases be|being ~ part|problem|issue", "leave|put ~ " + CONDITIONS + " behind|at", "walk|leave out|away ~ without ~ " + CONDITIONS, "ibogaine|ketamine|esketamine|psilocybin|mdma|ayahuasca|treatment|therapy|session|programme|program|protocol|infusion|journey ~ break|kick|beat|overcome|crush|smash ~ " + CONDITIONS),
         "says a condition is erased, gone or left behind", "'reduced … in some participants during the trial'"),
    Rule("root", "cure", "warning", ("at the root", "root cause", "=just|only|merely|simply mask|numb|cover|hide|paper ~ symptom|problem|pain", "mask|masks|masking the? symptom"),
         "says the treatment removes the cause, where others only mask symptoms", "say what the trial measured, and that the causes of … are not settled"),
    Rule("complete-recovery", "cure", "warning", ("complete|full|total|permanent|instant|overnight recovery|healing|remission|cure|relief|transformation", "=fully|completely|totally recover|recovered|healed|cured"),
         "says people recover completely or at once", "'symptoms eased for some participants; some relapsed'", study_context_ok=True),
    Rule("permanent", "cure", "error", ("for good", "for life", "once and for all", "=permanently", "permanent fix|cure|relief|solution|reset|change|end",
                                    "long -? =lasting fix|cure|relief|solution|recovery|remission|end", "=lasting|lifelong|durable fix|cure|relief|solution|recovery|remission|end", "=never come|comes|came|return|returned|returns back?", "for the rest of your|their|his|her|our|my life", "last|lasts|lasting ~ a lifetime", "for a lifetime", "all anyone|you|people|most need|needs", "you 'll|will ever need", "=rest of your|their life", "the last ~ you will|'ll ever need"),
         "says the effect is permanent, but follow-up in these trials lasted months", "'in the 12 months of follow-up' or 'symptoms returned for some'"),
    Rule("vanish", "cure", "warning", (CONDITIONS + " ~ vanish|disappear|evaporate", "say goodbye to", "=forever", "never again suffer|feel", "=never have|having|feel|suffer another|again", "=never need|needs|suffer|struggle|relapse|worry|return ~ again"),
         "says a condition goes away for good", "'symptoms eased for some participants during the trial'"),
    Rule("free-of", "cure", "warning", ("=free of|from ~ " + CONDITIONS, CONDITIONS + " - free", "=trauma-free|depression-free|anxiety-free|ptsd-free|pain-free"), "says people end up free of a condition", "'no longer met the criteria for … at the end of the trial'"),
    # --- absolute safety
    Rule("safe-absolute", "safety", "error", ("completely|totally|perfectly|entirely|absolutely|fully|100 %? safe", "100 percent safe", "safe for everyone|everybody|anyone|all"),
         "says a treatment is completely safe; every active treatment has risks", "'the most common side effects in the trials were …'"),
    Rule("no-side-effects", "safety", "error", ("no known|serious|dangerous|harmful|major|bad|nasty|real|significant|lasting|negative|unpleasant side -? effect", "zero side -? effect|risk|danger", "not a single|one side -? effect", "no real|serious|significant|major|known|actual risk|danger|downside", "no known? side -? effect", "wo|will|does|do n't|not cause|have any? side -? effect", "without ~ side -? effect", "no adverse effect", "side -? effect -? free", "=side-effect-free", "free of|from side -? effect"),
         "says there are no side effects", "name the side effects the trials reported"),
    Rule("no-risk", "safety", "error", ("no risk|danger|downside", "zero risk", "risk -? free", "=risk-free", "carry|carries no risk", "without any? risk", "free of|from ~ risk|danger|harm", "nothing dangerous|risky|harmful|unsafe"),
         "says there is no risk", "name the risks and how often they occurred"),
    Rule("non-addictive", "safety", "error", ("non - addictive", "=non-addictive", "not addictive", "no risk of dependence|addiction|misuse|abuse", "no abuse|addiction|misuse|dependence potential|risk|liability", "zero abuse|addiction|misuse|dependence potential|risk|liability"),
         "says the drug cannot be addictive", "'misuse and dependence are possible; clinics limit …'"),
    Rule("harmless", "safety", "warning", ("harmless", "non -? toxic", "=non-toxic", "none of the risk|danger|side", "safe to use|take every|daily|forever|indefinitely", "=cannot|can't harm|hurt", "ca n't harm|hurt", "can not harm|hurt", "nothing to worry about", "nothing to fear", "no lasting|long - term|harmful effect", "cannot|impossible to overdose", "can not overdose", "=can't|cant overdose", "ca n't overdose", "safe than|as ~ aspirin|coffee|alcohol|water|tylenol|paracetamol|ibuprofen|antidepressant|ssri|ssris|medication|drug|exercise|any", "as safe as", "=body knows|know how to handle", "what ~ be there|'s to be afraid|scared|worried|fear|worry", "nothing to keep an eye on|watch", "nothing can|could|will go wrong", "the|one of the safe|safest ~ substance|drug|treatment|medicine|therapy|thing|option|psychedelic ~ on|in|there|known|ever", "no crash|comedown|hangover|catch|downside|crash", "hundred percent|per|% safe", "=hundred-percent safe"),
         "says the treatment cannot harm", "name the harms reported and who was excluded from the trials"),
    Rule("safe-slogan", "safety", "warning", ("=safe . ? , ? natural|gentle|fast|effective",), "advertises safety as a slogan", "say what the trials found about harms"),
    # --- universal or numeric efficacy
    Rule("works-for-all", "efficacy", "error", ("work|effective|help for|in everyone|everybody|anyone|all|every", "work every time", "help|work|benefit everyone|everybody|anyone", "=never fails|fail", "will work for you", "work|effective for|in # %", "work|effective|help for|in ~ # %|percent|per", "always work|help|succeed|deliver|succeed", "without fail", "=can't|cannot fail", "ca n't fail", "can not fail", "work|succeed|help|respond|improve|recover|heal|benefit ~ ,? with no exception", "work|succeed|help|respond|improve|recover|heal|benefit ~ ,? without exception", "work|succeed|help|effective ~ every|all kind|type|form|case|cause|sort"),
         "says it works for everyone; in every trial some people did not respond", "'about N in 10 participants responded in the trial'"),
    Rule("all-patients", "efficacy", "warning", ("every single one", "=nearly|almost|virtually all|every patient|people|person|client|veteran|sufferer|customer|user|one", "every single patient|client|veteran|sufferer|customer|person", "every patient|client|veteran|sufferer|customer|person ~ ~ improve|recover|respond|benefit|heal|get|feel|leave|walk|see|find|experience|achieve|reach|become|stay|go|break|=gone", "whatever your diagnosis", "everyone|everybody|anyone who ~ feel|get|improve|recover|benefit|respond|heal", "work for all type", "all|every one? of our|my ~ client|patient|veteran|guest|customer ~ improve|recover|heal|respond|benefit|get|feel|leave|walk|report"),
         "says (nearly) every patient benefits", "give the trial's figure with its comparison group"),
    Rule("numeric-ours", "efficacy", "error", ("# %|percent of ~ =people|patients|clients|veterans|users|customers|guests|alumni|men|women|those|everyone", "# of every # ~ =people|patients|clients|veterans|guests"),
         "states a success figure for our clients without the study, the comparison or the time", "'in a trial of N people, X% on the drug and Y% on placebo …'", needs="speaker", study_context_ok=True),
    Rule("instant", "efficacy", "warning", ("=instant|immediate|overnight relief|results|result|cure|recovery|healing|transformation|change", "work|heal|cure|fix ~ in|within|after a? single|one|just session|dose|night|day|weekend|infusion|treatment", "in a? single|one night|session|weekend|infusion ~ " + CONDITIONS),
         "promises a result at once", "'some participants reported relief within days in the trial'", study_context_ok=True),
    Rule("works-for", "efficacy", "warning", ("ketamine|esketamine|psilocybin|mdma|ibogaine|ayahuasca|lsd|it|this|therapy|treatment =works|work for|on ~ " + CONDITIONS, "=full stop", "period \\.", "confirm what we|we 've|I|I 've ~ say|know", "they|patient|client|guest|veteran stay|remain that way|well|better|clean|sober|symptom"),
         "states flatly that it works, or that the benefit stays", "'in two trials, more participants improved on it than on placebo'", study_context_ok=True),
    Rule("hundred-percent", "efficacy", "error", ("100 % success|effective|of|response|result|remission", "100 percent", "a? hundred percent|per ~ effective|success|healed|cured|better|result"), "claims a 100% result, which no trial has reported", "'X% of participants responded in the trial, against Y% on placebo'"),
    Rule("numeric", "efficacy", "error", ("# in|out of? #", "# in|out of? every #", "success rate", "relapse rate : ? zero|0", "# % of our", "# % ~ symptom - free", "# % ~ remission|recover|cure"),
         "states a success figure without the study, the comparison or the time", "'in a trial of N people, X% on the drug and Y% on placebo …'", study_context_ok=True),
    Rule("our-numbers", "efficacy", "error", ("## of our|my ~ ## ~ patient|client|guest|veteran", "## of our|my ~ patient|client|guest|veteran", "## of every ## of our|my", "our number|figure|result|outcome|stat|statistic :"),
         "states a success figure for our clients without the study, the comparison or the time", "'in a trial of N people, X% on the drug and Y% on placebo …'"),
    Rule("cuts-by", "efficacy", "error", ("cut|reduce|lower|slash|halve|drop|fall|decrease|improve|shrink|lift ~ by # %|percent|per", "cut|reduce|lower|slash|fall|drop|decrease|improve|halve ~ by ~ half|third|quarter|two|#",
                                          "relapse|failure|dropout|success rate ~ zero|0|nil|none|100", "for anyone|everyone|everybody who"),
         "states how much it cuts symptoms, or for whom, without the study, the comparison or the time", "'in a trial of N people, scores fell by X points on the drug and Y on placebo'", study_context_ok=True),
    # --- guarantees and promises
    Rule("guarantee", "guarantee", "error", ("guarantee", "=guaranteed", "money back", "refund", "rest assured", "be assured", "is assured", "ensure|ensures you", "=surefire|foolproof|sure-fire", "sure - fire", "fool - proof", "certain|sure|bound to work|help|heal|succeed|improve|change", "=will|'ll work|heal|fix|succeed|change your|you", "this|it|ketamine|psilocybin|ibogaine|mdma|treatment|therapy|session|protocol|programme|program will|'ll ~ work|heal|fix|cure|change your|transform your|give you"),
         "guarantees a result no one can guarantee", "'some people improve; we will talk through what the studies show'", hedgeable=False),
    Rule("promise", "guarantee", "error", ("=promise|promises|promised", "=promising you|that|to"), "promises a result", "'some people improve; we cannot promise that you will'", needs="speaker", hedgeable=False),
    Rule("you-will", "guarantee", "warning", ("expect ~ ~ " + CONDITIONS + " to fall|drop|lift|ease|disappear|vanish|halve|improve|end|fade|go", "you should|can|will expect ~ too", "expect|count on ~ result|relief|improvement ~ every time", "you will|'ll feel|be|wake|see|notice|never|get|sleep|find|walk|leave|break|kick|beat|overcome|recover|heal", "your ~ will lift|disappear|vanish|go|end|fade|drop|fall|halve|shrink|ease|improve", "you be certain|sure|bound|guaranteed to", "you can count|rely on", "give you your life back", "feel better in|within #", "we will|'ll get|make you better|well", "we will|'ll fix|cure|heal|solve|end ~ it|you|that|this", "never met|seen|had ~ patient|client|case|person ~ could|can n't|not help", "will be gone|history|over", "or it 's|is free", "or your money back", "expect the same|similar result|results|outcome", "be living? proof that? ~ you|it|this|anyone", "you can do it|this|the same too", "free|charge|cost ~ until you|it", "be n't|not a maybe|gamble|question mark", "=isn't|aren't a maybe|gamble", "we stand behind our|the ~ program|programme|result|treatment|protocol"),
         "promises the reader a result", "'some participants reported …'", hedgeable=False),
    # --- advice to change medication or care
    Rule("stop-meds", "advice", "error", ("stop|quit|taper|switch|ditch|discontinue|halve|wean|skip|cancel|reduce|cut|replace|forget|swap|trade|drop|dump|abandon|toss|bin|kick off|from|down|out|back|on? ~ " + MEDS + "|" + CARE, "stop|quit|taper|ditch|discontinue|wean|skip off? =taking|using? them|these|those", "come|get off ~ " + MEDS + "|them", "throw away|out ~ " + MEDS, "stop|quit =going|attending|seeing|booking", "leave ~ " + MEDS + " behind"),
         "tells readers to change their medication or care", "'talk to your prescriber before changing any medicine'", needs="imperative", hedgeable=False),
    Rule("no-need", "advice", "error", ("do|does|will|wo n't|not need ~ " + CARE + "|" + MEDS + "|them", "no longer need ~ " + CARE + "|" + MEDS, "no need for|to ~ " + CARE + "|" + MEDS, "instead of your|taking ~ " + MEDS + "|" + CARE, "do n't|not bother with ~ " + MEDS + "|" + CARE, "forget about ~ " + MEDS + "|" + CARE, "=no more " + MEDS, "do n't|not tell|ask|consult|involve|wait|check for|with? ~ your? =doctor|doctors|psychiatrist|prescriber|therapist|gp|pharmacist", "=don't|dont tell|ask|consult|involve|wait ~ your? =doctor|doctors|psychiatrist|prescriber|therapist|gp", "=no prescription|referral|doctor needed|required|necessary", "do|does|will|wo n't|not need ~ ~ " + SUPPORT, "no need for|to ~ " + SUPPORT, "no reason to keep|continue|bother ~ booking|seeing|taking|going|paying|visiting|them", CARE + " ~ be|are n't|not necessary|needed|required anymore|any|now", "=aren't|isn't|not necessary|needed anymore", "do|does the work|heavy|job on|by its|itself|own?", "do all the work|heavy", "do the heavy lifting", "do|does n't|not have to tell|ask|see|involve|inform|consult ~ them|your|anyone", "=don't|dont have to tell|ask|see|involve|inform|consult"),
         "tells readers they do not need their treatment or clinician", "'this treatment was given alongside …, not instead of it'", hedgeable=False),
    Rule("customers-stop", "advice", "error", ("guest|client|patient|people|folk ~ just|simply|usually? stop|pause|quit|drop|skip|ditch|halt|suspend them|their|it|the",),
         "says our clients stop a medicine, as a model for readers", "'talk to your prescriber before changing any medicine'", needs="speaker", hedgeable=False, block_needs=MEDS),
    Rule("guests-stop", "advice", "error", ("guest|client|member|alumni|alumnus ~ ~ come|get|go off", "guest|client|member|alumni|alumnus ~ ~ stop|pause|quit|drop|skip|ditch|halt|suspend|taper them|their|it|the"),
         "says the clinic's clients stop a medicine, as a model for readers", "'talk to your prescriber before changing any medicine'", hedgeable=False, block_needs=MEDS),
    Rule("still-need", "advice", "warning", ("ask yourself whether|if ~ ~ need|still", MEDS + " ~ dull|dulls|blunt|blunts|block|blocks|mute|mutes|dampen|dampens|cancel ~ benefit|effect|experience|healing|journey|medicine|session"),
         "suggests readers question or drop a medicine because of the treatment", "'some medicines interact with it; your prescriber can tell you what that means for you'", hedgeable=False, block_needs=MEDS, block_unless="prescriber|prescribe|doctor|psychiatrist|gp|physician|clinician|pharmacist"),
    Rule("never-the-answer", "advice", "warning", (MEDS + " be|were|was never|not|n't the answer|solution|way", "=pills|meds|medication|antidepressants were|are never the answer|solution"),
         "tells readers their medicine was never the answer", "'for some people medicines help; talk to your prescriber before changing any'", hedgeable=False),
    Rule("stop-it", "advice", "error", ("stop|quit|taper|ditch|drop|discontinue|wean|skip|dump|toss|pause|suspend it|them|those|these", "taper|wean|get|come yourself|you off|down", "stop|quit|taper|ditch|drop|wean off|from it|them"),
         "tells readers to stop a medicine named nearby", "'talk to your prescriber before changing any medicine'", needs="imperative", hedgeable=False, block_needs=MEDS),
    Rule("cold-turkey", "advice", "warning", ("cold turkey", "=cold-turkey", "tell|urge|encourage|recommend|advise ~ anyone|everyone|everybody|you|reader ~ to do the same", "do the same", "follow my|our lead", "just do it"),
         "recommends stopping a medicine abruptly, or that readers do as the writer did", "'talk to your prescriber before changing any medicine'", needs="speaker", hedgeable=False, block_needs=MEDS),
    Rule("start-stopping", "advice", "error", ("can|should|could|must start|begin? =tapering|stopping|quitting|weaning|discontinuing|ditching|dropping|reducing|halving", "can|may simply|just|safely? skip|stop|drop|pause|halt|quit|forget ~ " + MEDS, "i|we ~ tell|advise|instruct|encourage|urge ~ patient|client|you|them|people|reader to? ~ stop|taper|quit|ditch|drop|halve|reduce|wean|come"),
         "tells readers or patients they can stop or taper a medicine", "'talk to your prescriber before changing any medicine'", block_needs=MEDS),
    Rule("consider-stopping", "advice", "error", ("consider|try =stopping|quitting|tapering|switching|skipping|dropping|reducing ~ " + MEDS + "|" + CARE,),
         "suggests readers change their medication or care", "'talk to your prescriber before changing any medicine'", hedgeable=False),
    Rule("replaces-care", "advice", "warning", ("=replaces|replaced|replace ~ year|month of? ~ " + CARE + "|" + MEDS + "|session", "why keep pay|take|see|refill|fill|buy|renew|book ~ " + CARE + "|" + MEDS, "who need ~ " + SUPPORT + "|couch|pill|pills|prescription"),
         "presents a treatment as a replacement for care the reader has", "'was given alongside …, not instead of it'", hedgeable=False),
    # --- predictions presented as fact
    Rule("agency-will", "prediction", "error", (AGENCY + " will|'ll|wo approve|authorise|authorize|legalise|legalize|cover|reschedule|allow|follow|lift|say|sign|greenlight|green|clear|okay|ok|rubber", AGENCY + " will|'ll have =signed|approved|cleared|greenlit|authorized|authorised|legalized|legalised|covered", AGENCY + " will|'ll be =picking|covering|paying|funding|approving", "be =getting approved|legalized|legalised|rescheduled|covered|greenlit", AGENCY + " be|are go to approve|cover|authorise|authorize|legalise|legalize|reschedule|allow|lift|pay|fund|reimburse"),
         "states a regulator's or payer's future decision as fact", "'the FDA has not said when it will decide'"),
    Rule("will-be", "prediction", "error", ("will soon|definitely|certainly|surely|undoubtedly? be the? approve|legal|legalise|legalize|available|cover|authorise|authorize|reschedule|lift|offer|standard|prescribe|norm|future", "will|'ll be " + AGENCY + " - approve|approved|cleared|backed", "will|'ll have =replaced|become|overtaken|transformed|ended|displaced"),
         "states a future approval or availability as fact", "'could become available if regulators approve it'"),
    Rule("certain", "prediction", "error", ("set|poised|due|sure|certain|bound to be? approve|legal|legalise|legalize|available|cover|authorise|authorize|reschedule|pay|fund|reimburse", "approval|decision|legalisation|legalization be certain|inevitable|guarantee|assured", "matter of time", "done deal", "coming in #", "set|poised|due|sure|certain|bound to sign|green|rubber off|light|stamp|-", "=formality", "just|only|mere|simply|merely paperwork|formality", "approval|decision|legalisation|legalization|rescheduling ~ be ~ imminent|inevitable|certain|coming|assured", "be coming|due|arriving next|this year|month|spring|summer|autumn|fall|winter", "approval|decision|legalisation|legalization|rescheduling be ~ around the corner", "approval|decision|legalisation|legalization|rescheduling be ~ in the bag", "will soon? get|win|receive|gain|secure ~ approval|green|nod|go"),
         "presents a future decision as certain", "'no decision has been announced'"),
    Rule("will-become", "prediction", "warning", ("will soon|definitely|certainly|surely? replace|become|confirm|prove|transform|revolutionise|revolutionize|end", "every|all ~ will prescribe|offer|use|recommend|provide", "be come to your|a ~ clinic|pharmacy|hospital|gp|doctor", "be|is|are the future of ~ psychiatry|medicine|mental|care|treatment|therapy|healing|health"), "states what the future holds as fact", "'may', 'could', or who predicts it"),
    Rule("going-to", "prediction", "warning", ("make|render ~ " + COMPARATORS + " obsolete|redundant|unnecessary|history", "be =going to make|render", "will|'ll ~ ~ =pharmacy|pharmacies|shelf|shelves", "will look|seem outdated|obsolete|archaic|primitive|barbaric|quaint", "as outdated|obsolete|archaic as", "be =simply|just|definitely|certainly|surely|absolutely|totally =going|bound|about to approve|replace|become|transform|change|overtake|end", "be =going|about|set|bound|poised to approve|confirm|become|replace|transform|prove|revolutionise|revolutionize|overtake|legalise|legalize|reshape|upend",
                                                  "be =going|about|set|bound|poised to change ~ psychiatry|medicine|everything|field|care|treatment|world|psychotherapy"),
         "states what the future holds as fact", "'may', 'could', or who predicts it"),
    # --- unqualified superiority
    Rule("better-than", "superiority", "error", ("better|effective|superior|stronger|faster|powerful|well than|to ~ " + COMPARATORS, "twice|thrice as well|effective|good as ~ " + COMPARATORS, "superior to any|all|every|ssri|ssris|antidepressant|other"),
         "says it beats other treatments without a head-to-head trial", "'in one trial it did better than placebo; it has not been compared with …'", study_context_ok=True),
    Rule("outperform", "superiority", "warning", ("outperform|outdo|beat|surpass|trump", "gold -? standard", "=gold-standard", "ahead of any|all|every|other", "why settle for", "the|a superior option|choice|treatment|alternative|way|path", "=simply|clearly|obviously|undeniably the better|best|superior|smarter", "do|does|did more ~ for ~ than ~ " + COMPARATORS + "|decade|year|pill|session", "do|does|did more ~ than ~ decade|year|pill|session|antidepressant|medication|therapy", "second to none", "in a league of its own", "=unmatched|unrivalled|unrivaled|unparalleled|unbeatable|peerless|unequalled|unequaled", "leave ~ ~ in the dust", "head and shoulders above", "light - years ahead", "nothing|no ~ come close"), "says it beats other treatments", "name the comparison the trial made (usually placebo)", study_context_ok=True),
    Rule("the-best", "superiority", "error", ("the|our most effective|powerful|successful treatment|therapy|option|way|antidepressant|medicine|drug", "most effective|powerful|successful ~ ever", "the best|#1 treatment|therapy|option|way|cure", "the|our best ~ treatment|therapy|clinic|care|infusion|programme|program|antidepressant|medicine", "=number one|#1 treatment|therapy", "the only ~ that ~ work", "nothing work well|faster|better", "nothing ~ compare to|with", "no other ~ come close", "nothing|=nobody beat|rival|outperform|top|match", "what ~ ~ ca|can|could n't|not|never touch|match|do|achieve", "what ~ ~ cannot touch|match|do|achieve", "cheat code", "magic|silver bullet", "holy grail", "game - changer", "=game-changer", "the answer to ~ " + CONDITIONS),
         "calls it the best or the only treatment", "'one of the options studied for …'", study_context_ok=True),
    # --- borrowed authority
    Rule("proven", "authority", "error", ("clinically|scientifically|medically prove|validate|test", "research|researcher|science|scientist|study ~ prove", "science be settle", "validate by science"),
         "claims proof or validation that the evidence does not give", "cite the study and say what it found", hedgeable=False),
    Rule("approved-by", "authority", "error", ("doctor|physician|psychiatrist|expert|scientist - approve|recommend|endorse|back|trust", "=doctor-approved|doctor-recommended"),
         "borrows the authority of doctors for a product", "name who reviewed what, and cite the guideline if there is one", hedgeable=False),
    Rule("backed-by", "authority", "warning", ("approve|back|endorse|recommend|trust|develop|validate by ~ science|research|doctor|expert|neuroscientist|psychiatrist|thousand|professional",
                                                 "endorse|back|recommend|trust|champion by ~ " + AGENCY, "science|research|harvard|stanford|hopkins|yale|oxford|university|nih|expert|doctor|psychiatrist|physician|clinician|neuroscience - back|approve|endorse|recommend|certify|trust|test|proven|prove", "swear by", "science|research|evidence|data say|says|show|shows ~ it|that|ketamine|esketamine|psilocybin|ibogaine|mdma|ayahuasca|this ~ work|works|heal|heals|cure|cures", "=science-backed|research-backed|evidence-backed|science-based|harvard-backed|clinician-approved|psychiatrist-approved|therapist-approved|clinically-proven", "science|research|evidence have|has? =shows|showed|shown|confirms|confirmed|proves|proved|proven|establishes|established|demonstrates|demonstrated that? ~ work|works|effective|safe|cure", "the evidence be|is clear|in|overwhelming|undeniable|conclusive|settle|irrefutable", "the result|data|science|verdict be|are in|clear|settle", "crystal clear", "the science be|is settle", "=as featured|seen in", "expert|doctor|psychiatrist|scientist|neuroscientist|researcher have? agree|recommend|confirm|trust|endorse|choose|prefer"),
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
    "website", "spokesperson", "according", "caption", "brochure", "hear", "quote", "flyer", "leaflet", "poster", "billboard", "banner", "listing",
}
ATTRIBUTION_FORMS = {"spotted"}  # word forms whose lemma is too common to be a cue ("lock in your spot")
ATTRIBUTION_PHRASES = ("so-called", "so - called", "some clinics", "some providers", "some retreats", "some websites", "some companies", "other clinics", "many clinics", "a few clinics", "one clinic", "one retreat")
# A clinic's own customers "report" or "say" in a testimonial: the clinic adopts it, it is not distance.
TESTIMONIAL_SUBJECTS = {"guest", "client", "customer", "alumni", "alumnus", "member", "graduate"}
CRITICISM = {
    "wary", "careful", "cautious", "caution", "sceptical", "skeptical", "beware", "warning", "warn", "avoid", "misleading", "mislead",
    "myth", "false", "untrue", "exaggerate", "exaggeration", "overstate", "hype", "ignore", "wrong", "unfounded", "dubious", "scam",
    "suspicious", "distrust", "unsupported", "unproven", "dangerous", "illegal", "complaint", "regret",
}
CRITICISM_PHRASES = (
    "any provider", "any clinic", "any website", "any company", "clinics that", "clinics which", "clinics who",
    "providers that", "providers who", "websites that", "no study supports", "does not support", "do not support", "red flag", "watch out",
    "watch for", "look out for", "warning sign", "walk away", "as evidence that", "as proof that", "not evidence", "business decision", "sales tactic", "marketing tactic", "sales pitch", "a promise like that", "promises like that", "a claim like that", "claims like that", "promises like these", "claims like these",
)
# "anyone who ... says/promises" warns about a claim; "for anyone who sees it through" makes one.
ANYONE_CLAIMING = r" anyone (?:who|that) (?:\S+ ){0,3}(?:says|said|claims|claimed|promises|promised|tells|told|offers|offered|sells|sold|guarantees|guaranteed|advertises|insists|suggests|markets|pushes|pitches|swears|calls|sounds|seems) "
# Discourse markers built on "say": they attribute nothing ("That said, you can expect ...").
SAY_MARKERS = (" that said ", " having said that ", " needless to say ", " suffice to say ", " suffice it to say ", " that is to say ", " so to say ", " i must say ", " i have to say ", " i 'd say ", " i would say ")
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
# The first word of an answer that denies the question before it ("Guaranteed results? We can't offer them.").
ANSWER_NO = {"no", "not", "nope", "never", "sadly", "unfortunately", "nobody", "none"}
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
STUDY_CONTEXT = {"define", "definition", "scale", "endpoint", "criterion", "criteria", "rating", "trial", "study", "placebo", "participant", "compare", "versus", "vs", "group", "arm", "week", "author", "paper", "publish", "review", "meta", "analysis", "found", "find", "report", "dose", "cohort", "sample"}
IMPERATIVE_VERBS = {"switch", "try", "book", "call", "come", "start", "stop", "get", "make", "take", "give", "let", "join", "leave", "drop", "ditch", "trust", "choose", "quit", "skip", "say", "pick", "swap", "go", "find", "discover", "experience", "reclaim", "break", "kick", "throw"}  # a clause led by one is an imperative ("Switch to X and leave the pills behind")
IMPERATIVE_LEADS = {"today", "just", "simply", "so", "then", "and", "please", "now", "time", "to", "it", "'s", "finally", "go", "ahead", "safely", "also", "immediately"}
MODALS = {"can", "should", "could", "must", "may", "need", "ought", "to", "might"}
# Official names that contain claim words: masked before matching.
OFFICIAL_TERMS = (
    "breakthrough therapy designation", "breakthrough therapy", "fast track", "priority review", "accelerated approval", "complete response letter",
    "risk evaluation and mitigation strategy", "orphan drug", "expanded access", "right to try",
)
