"""Reply classification: what a person's reply means for outreach.

``Classifier`` is the interface (a model can replace the rules later); ``RuleClassifier`` is the
shipped implementation: families of phrase rules (English plus common German, French and Spanish
phrasings) over the reply's own words, and a return-date reader for out-of-office replies.
Accuracy on the labelled sets under ``data/`` is printed by ``leadpool event classifier-eval``.

How a reply is read:

1. Our own words are removed first: quoted history (``>`` lines, "On ... wrote:", forwarded and
   Outlook headers), the signature after a ``--`` line and legal disclaimers. A reply with no
   words of its own left ("Sent from my iPhone" over our quoted email) is ``other``.
2. Text is folded before matching: lower case, accents dropped, curly quotes and dashes made
   plain, so "Désabonner", "desabonner" and typed-on-a-phone variants meet one rule.
3. Categories are tried in a fixed precedence; the first family that matches wins:

   unsubscribe > wrong_person (departed) > out_of_office > wrong_person (referral)
   > not_interested > interested > other

   - An explicit opt-out wins over everything: it is a legal signal, and "not interested, take me
     off your list" must stop all contact, not just cool the lead.
   - The channel, when the caller names it, widens the opt-outs: in a reply to a text (``sms``,
     ``phone``) one of the FCC's per se words anywhere is one ("I want to cancel"), not only the
     shapes the rules find on every channel ("Cancel my subscription", "Leave me alone"). A bare
     SMS HELP / INFO / START / UNSTOP is a program keyword, not an answer (``keyword``).
   - "This person has left / no longer works here" outranks out-of-office because departure
     notices are usually auto-replies themselves, and they end the contact for good.
   - Out-of-office outranks referrals and intent: auto-replies routinely say "for urgent matters
     contact Jane" (not a referral) or "I'll call you back" (not interest).
   - Referrals ("talk to Jane, she handles this", "I'll pass this to the right person", "not my
     area") are ``wrong_person``: the addressee is not the buyer, whatever they think of it.
   - Not-interested outranks interested, and it contains the negated forms of the interest
     words ("not interested", "isn't a fit", "not in a position to"), so a negation never reads
     as interest. Deferrals without a commitment ("not now, maybe Q3", "circle back next year")
     are ``not_interested``: they cool the lead rather than book anything.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from leadpool.events.return_date import find_return_date
from leadpool.events.schemas import ReplyCategory

# Whole-message opt-out keywords (Twilio's defaults, AWS additions, and the FCC's list).
STOP_WORDS = frozenset(
    {
        "stop",
        "stopall",
        "stop all",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "revoke",
        "optout",
        "opt-out",
        "opt out",
        "remove",
        "arret",
        "arrêt",
        "td",
        "stop please",
        "please stop",
    }
)


@dataclass(frozen=True)
class Classification:
    category: ReplyCategory
    confidence: float
    return_date: date | None = None
    # an SMS program keyword that is not a person answering: "help" (HELP, INFO: the carrier's
    # information keyword) or "start" (START, UNSTOP: opting back in). The category stays
    # ``other``; the recorder gives such a reply no reply effects (docs/events.md).
    keyword: str | None = None


class Classifier(Protocol):
    def classify(
        self, text: str, *, received: date | None = None, channel: str | None = None
    ) -> Classification:
        """Categorise one reply; ``received`` anchors relative and year-less return dates,
        ``channel`` (email, sms, phone, linkedin; None when unknown) is the channel it came by."""
        ...


_PLAIN = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "–": "-", "—": "-", "‑": "-", "\u00a0": " "})


def _strip_marks(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lower case, no accents, plain quotes and dashes: the form every rule is matched against."""
    return _strip_marks(text.translate(_PLAIN)).lower()


def _p(*patterns: str) -> re.Pattern[str]:
    # Patterns are accent-folded like the text (so "[ée]" still works); never lower-cased, which
    # would turn \W into \w.
    return re.compile("|".join(f"(?:{_strip_marks(p)})" for p in patterns), re.IGNORECASE | re.MULTILINE)


# Shared word families.
_CONTACT = r"(?:e-?mail(?:ing)?|contact(?:ing)?|messag(?:e|ing)|text(?:ing)?|call(?:ing)?|writ(?:e|ing)(?: to)?|reach(?:ing)? out(?: to)?|send(?:ing)?|spamm?(?:ing)?|bother(?:ing)?|pinging|ping)"
_LIST = (
    r"(?:list|lists|database|distribution|mailing|mailings|sequence|cadence|campaign|crm|newsletter|emails)"
)
_DAYS = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*"
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_ROLE = r"(?:head|director|vp|manager|ceo|cto|cfo|coo|cmo|cro|founder|owner|boss|lead|colleague)"
_DEPT = r"(?:marketing|sales|finance|hr|it|ops|operations|procurement|purchasing|legal|engineering|product|revenue|growth|demand gen|partnerships|accounts)"
_NEGATOR = r"(?:\bnot|n't|\bnever|\bhardly|\bno longer)"
_INTEREST = r"(?:inte?re?st(?:ed|ing)|keen|open to|excited|curious|looking for|in the market|a (?:good |great |right )?fit|relevant|useful|a priority|worth)"

# A reply that opens with an opt-out keyword and goes on ("STOP - not interested", "Stop. Wrong
# number.", "STOP STOP", "Yes, stop."): the FCC reads these words in a reply as revocation, whatever
# follows. "Strong" keywords have no everyday use at the start of a reply; after them comes a
# separator (. ! , : an emoji, a dash not joined to a word ("Stop-gap" is a word), or the end of the
# line; not "?": "Stop? why" asks), another keyword, or a
# word that cannot continue a phrase like "stop by" / "quit my job" (it, now, not, wrong, I, ...).
_OPT_OUT_YES = (
    r"(?:(?:yes|yeah|yep|yup|ok|okay|k|sure|fine|y)\b[^\w\n]*)?(?:(?:please|pls|plz|just)[^\S\n]+)?"
)
_OPT_OUT_STRONG = r"(?:stop(?:all)?|quit|unsubscribe|revoke|opt[- ]?out)"
_OPT_OUT_WEAK = r"(?:cancel|end|remove|arret)"
_OPT_OUT_TAIL = (
    r"(?:[^\S\n]*(?:-(?!\w)|[^\w\s?&/@'\"-]|$)|(?:[^\S\n]+|-)(?:"
    + _OPT_OUT_STRONG
    + "|"
    + _OPT_OUT_WEAK
    + r"|it|this|these|now|already|immediately|asap|please|pls|plz|thanks?|thank you|not|no|nope|nah|wrong|"
    r"i|i'm|im|we|we're|don't|dont|do not)\b)"
)
# The same words ending a reply ("Not interested STOP", "Not interested - quit pls"): after a
# separator or after a word that does not make them a statement or a noun ("don't stop", "I quit",
# "where should we stop", "I have a hard stop", "non-stop"; a word with an apostrophe, "can't", never
# counts as the word before). Politeness may follow; "?" may not ("Does it ever stop?" asks).
_OPT_OUT_NOT_AFTER = (
    r"(?:(?:do|does|did|is|are|was|were|have|has|had|ca|could|would|should|wo|must|might|need|ai)nt|not|never|no|nor|or|cannot|to|will|would|can|could|should|must|might|may|shall|gonna|wanna|"
    r"gotta|lets|i|we|you|they|he|she|it|who|that|which|what|where|when|why|how|a|an|the|my|our|your|his|her|"
    r"their|its|this|these|those|next|last|first|final|full|hard|bus|pit|one|non|door|quick|short|brief|rest|"
    r"truck|whistle|emergency|without)"
)
_OPT_OUT_END = r"(?:[^\w?]*\b(?:please|pls|plz|now|thanks?|thank you|thx|ty|asap|immediately)\b)*[^\w?]*\Z"
# cancel/end (the FCC's other per se words) only as a clause of their own closing the reply, as in
# "Not interested, cancel." (not remove/arret: carrier keywords, not revocation words); see below
# for the meeting guard.
_OPT_OUT_PER_SE_WEAK = r"(?:cancel|end)"
# a reply mentioning one of these is about a meeting, not an opt-out ("Cancel, something came up")
_ABOUT_A_MEETING = (
    r"\b(?:meeting|call|appointment|demo|reschedul\w*|invite|invitation|session|booking|reservation|"
    r"event|webinar|order|subscription|today|tomorrow|(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b"
)

_UNSUBSCRIBE = _p(
    r"\bun-?sub(?:\b|s?c?r|sc)\w*+(?! (?:polic|rule|requirement|process|law|regulation))",
    # at the start of a line, a sentence or a clause: "STOP - not interested", "Hi\nSTOP wrong
    # number", "Not for me. Stop, thanks", "Not interested, QUIT". [^\w\n] rather than \W, which
    # would let every line start rescan a run of blank lines (quadratic).
    rf"(?:^[^\w\n]*|[.!?][^\S\n]+|[,;][^\S\n]*){_OPT_OUT_YES}{_OPT_OUT_STRONG}{_OPT_OUT_TAIL}",
    # ending the reply: "Not interested STOP", "not interested - stop pls"
    rf"(?:(?<![\w'])(?!{_OPT_OUT_NOT_AFTER}\b)\w+[^\S\n]+|[^\w\s?'-][^\S\n]*|(?<!\w)-[^\S\n]*)"
    rf"{_OPT_OUT_STRONG}{_OPT_OUT_END}",
    # cancel/end/remove also have everyday uses ("cancel my meeting", "end of the month"): only
    # when the reply opens with one and a separator, and is not about a meeting.
    rf"\A[^\w]*{_OPT_OUT_YES}{_OPT_OUT_WEAK}[^\S\n]*(?:[.!,;:]|-(?!\w)|$)(?![\s\S]*{_ABOUT_A_MEETING})",
    # cancel/end as a clause of their own closing a reply not about a meeting: "Not interested,
    # cancel.", "No thanks. END"
    rf"\A(?![\s\S]*{_ABOUT_A_MEETING})[\s\S]*?(?:[.!,;:\n]|(?<!\w)-)[^\S\n]*(?:(?:please|pls|plz)[^\S\n]+)?"
    rf"{_OPT_OUT_PER_SE_WEAK}{_OPT_OUT_END}",
    # revoking consent in words (FCC: any reasonable wording): "Please revoke my consent", "I
    # withdraw all consent", "consent withdrawn"
    r"\b(?:revok(?:e|es|ed|ing)|withdr(?:aw|aws|awing|awn|ew)|rescind(?:s|ed|ing)?)[^\S\n]+(?:\w+[^\S\n]+){0,3}?consent\b",
    r"\bconsent\b[^.!?\n]{0,25}?\b(?:revoked|withdrawn|rescinded)\b",
    # cancel/end with what is to end as their object (FCC per se words, any channel): "Cancel my
    # subscription", "End all messages", "cancel these texts" (not "end the call", "cancel my order")
    r"\b(?:cancel|end)[^\S\n]+(?:(?:all|any|my|the|this|these|those|your|our|every|further|future|more|of)"
    r"[^\S\n]+){0,2}?(?:subscriptions?|texts|text messages|messages|msgs|sms|e-?mails|mailings?|newsletters?|"
    r"notifications|alerts|promotions|marketing|contact|communications?|calls|phone calls)\b",
    # revocation in plain words (the FCC: "any reasonable means"): "Cease and desist", "Leave me
    # alone", "Delete my number", "Lose my number" (not "did you lose my number?", "don't lose my
    # number"), "I don't want these texts", "don't want to be contacted"
    r"\bcease and desist\b",
    r"\bleave (?:me|us) (?:alone|be)\b",
    r"(?<!n't )(?<!dont )(?<!not )(?<!never )(?<!you )(?<!did )"
    r"\b(?:delete|erase|lose|forget|purge|remove|drop|scrap|bin)[^\S\n]+(?:my|our|this|the)[^\S\n]+"
    r"(?:(?:phone|mobile|cell|cell phone|e-?mail)[^\S\n]+)?(?:number|#|address)(?!\w)",
    r"\b(?:i|we) (?:do ?n't|dont|do not|no longer) (?:want|wish to get|need) (?:to (?:get|receive) )?(?:any )?"
    r"(?:more |further |these |those |your |this |the |such |of (?:these|your|this) ){0,3}(?:texts?|text messages|"
    r"messages|e-?mails|calls|sms|spam|marketing|promotions)\b",
    r"\b(?:do ?n't|dont|do not|no longer) (?:want|wish) to be (?:contacted|texted|called|e-?mailed|messaged)\b",
    r"\bremove (?:me|us|it|this|them|my \w+|our \w+)\b",
    r"\b(?:take|get|keep|strike|want|cross) (?:me|us|my \w+|this \w+)? ?off\b",
    r"\b(?:off|from|out of) (?:of )?(?:your|the|this|that|these|those|all|any|my) (?:\w+ ){0,2}"
    + _LIST
    + r"\b",
    rf"\b(?:stop|quit|cease) (?:all )?{_CONTACT}",
    r"\b(?:please|pls|plz|kindly|just|so|now) stop\b(?! by)",
    r"^[^\w\n]*stop\b(?! by)(?:\W+(?:it|this|these|now|please|already|thanks?))*\W*$",
    # "don't email me" is an opt-out; "don't reach out / follow up again" (about this offer) is not.
    r"(?:^|[.!?]\s*)stop(?: it| this| now| please| already)?\W*$",
    r"\bkeep (?:getting|receiving) (?:these|this|your)\b",
    r"\b(?:do ?n't|do not|never)(?: ever)? (?:e-?mail|contact|message|text|call|write(?: to)?|spam|send me) "
    r"(?:me|us|this (?:address|email|number|account)|again|anything)\b",
    rf"\bdo not {_CONTACT}\b",
    r"\bnot (?:e-?mail|contact|message|text|write(?: to)?|spam|call) (?:me|us) (?:again|anymore|any ?more|ever)\b",
    r"\b(?:please|pls|kindly) (?:do )?not (?:e-?mail|contact|message|text|write(?: to)?|spam|call) (?:me|us)\b",
    r"\bopt(?:ing)?[- ]?(?:me |us )?out\b",
    r"\bno (?:more|further) (?:e-?mails?|messages|contact|communications?)\b",
    # the FCC reads any reasonable wording as a revocation: "no more texts" as much as "no more
    # emails", but not a diary ("I have no more calls today, call me at 10"; looked for in the
    # next 80 characters of the sentence, so a long run of the phrase stays linear)
    r"\bno (?:more|further) (?:texts?|text messages|sms|calls?|phone calls)\b"
    r"(?![^.!?\n]{0,80}?\b(?:today|tonight|this (?:week|morning|afternoon|evening|month)|left|scheduled|booked|"
    r"for now|until|till|needed|necessary|required|call me|text me|ring me|reach me)\b)",
    r"\b(?:delete|erase|purge|remove) (?:all )?(?:my|our|this) (?:personal )?(?:data|details|email|e-mail|information|contact|address)",
    r"\bunsolicited\b",
    r"\b(?:be|get|been) removed\b",
    r"\bremoved from\b",
    r"\bcease (?:all )?(?:communication|contact|emails?)\b",
    r"\bspam(?:ming)? me\b",
    r"\b(?:report(?:ed|ing)?|mark(?:ed|ing)?|flag(?:ged|ging)?) (?:this |you |it |these )?(?:as |for )?spam\b",
    # de
    r"\babmelden\b",
    r"\baustragen\b",
    r"\bnehmen sie mich\b",
    r"\b(?:aus|von) (?:ihrem|ihrer|ihren|dem|der|diesem|dieser) (?:\w+ )?(?:verteiler|liste|e-?mail-?liste|newsletter|datenbank)\b",
    r"\bkeine (?:weiteren )?(?:e-?mails|nachrichten|werbung)\b",
    r"\bl[öo]schen sie meine\b",
    r"\bkontaktieren sie mich nicht\b",
    r"\bnicht mehr (?:kontaktieren|anschreiben)\b",
    r"\b(?:widerrufe|widerrufen|ziehe)[^\S\n]+(?:\w+[^\S\n]+){0,2}?(?:einwilligung|zustimmung)\b",
    r"\b(?:einwilligung|zustimmung)\b[^.!?\n]{0,25}?\b(?:widerrufen|zuruckgezogen)\b",
    r"\b(?:schreiben|mailen|kontaktieren|senden) sie mir (?:\w+ )?nicht mehr\b",
    # fr
    r"\bd[ée]sabonn",
    r"\bd[ée]sinscri",
    r"\bne (?:plus|pas) (?:me )?(?:contacter|recevoir|[ée]crire)\b",
    r"\bretire[rz]?[- ]moi\b",
    r"\bme retirer\b",
    r"\bne (?:m'|me |nous )(?:ecrivez|contactez|envoyez|appelez|sollicitez|relancez)(?: plus| jamais)\b",
    r"\bsupprimez mes\b",
    r"\b(?:retire|retirons|revoque|revoquons)[^\S\n]+(?:\w+[^\S\n]+){0,2}?consentement\b",
    r"\bde (?:votre|vos|la|cette) (?:liste|fichier|base)\b",
    # es
    r"\bdar(?:me|nos)? de baja\b",
    r"\bno (?:me |nos )?(?:contacte|contacten|escriba|escriban|env[ií]en)\b",
    r"\b(?:eliminar|elimine|eliminen|borrar|borren|s[áa]quenme|s[áa]came|qu[ií]te(?:me|nme|nos))\b",
    r"\bde (?:su|tu|vuestra|la) lista\b",
    r"\b(?:revoco|retiro|revocamos|retiramos)[^\S\n]+(?:\w+[^\S\n]+){0,2}?consentimiento\b",
    r"\bdej(?:a|e|en|ad) de (?:enviar|escribir|contactar|llamar|mandar|molestar)",
)

# The addressee is gone: outranks out-of-office (these are often auto-replies themselves).
_DEPARTED = _p(
    r"\bno longer (?:with|at|works?|working|employed|part of|in (?:this|that|the|my) (?:role|position)|here|"
    r"handles?|handling|in charge|responsible|covers?|covering|looks? after|manag(?:e|es|ing)|the right|the person|the contact|involved)\b",
    r"\b(?:has|have|had) (?:left|moved on|departed)\b",
    r"\bretired\b",
    r"\bleft (?:us|the company|this company|the firm|the business|the organi[sz]ation|the team)\b",
    r"\bleft (?!you\b|it\b|a\b|an\b|my\b|the\b|early\b|late\b|work\b|home\b)\w+ (?:in|back in|last|earlier|a few|some|at the end)\b",
    r"\b(?:he|she|they|i) (?:does|do|did) ?(?:not|n't) work (?:here|there|at|for)\b",
    r"\b(?:does|do|did) ?(?:not|n't) work (?:here|there|at (?:this|the|our)|for (?:this|the|our) (?:company|firm|organi[sz]ation|business))\b",
    r"\b(?:is|are) no longer (?:with|at|here|employed|working|part|in)\b",
    r"\bpassed away\b",
    r"\bmailbox (?:is )?no longer (?:monitored|active|in use)\b",
    r"\b(?:email|e-mail|address|account|mailbox) is (?:no longer|not) (?:monitored|active|in use)\b",
    r"\bchanged (?:jobs|companies|roles)\b",
    r"\bmoved on from\b",
    r"\bmoved (?:to|into) (?:a |another |the |my )?(?:new |different )?(?:\w+ )?(?:role|position|team|department|job)\b",
    r"\bno one (?:by|with|called|named) (?:that|this|the) name\b",
    r"\bno (?:such person|one named)\b",
    # de
    r"\b(?:arbeite|ist) nicht mehr\b",
    r"\bnicht mehr (?:bei|im unternehmen|f[üu]r|t[äa]tig)\b",
    r"\bhat das unternehmen verlassen\b",
    # fr
    r"\bne (?:fait|travaille) plus\b",
    r"\ba quitt[ée] (?:la|l')",
    # es
    r"\bya no trabaja\b",
    r"\bdej[óo] la empresa\b",
    r"\bya no (?:estoy|trabajo|soy|llevo|me encargo|est[áa]|es)\b",
)

_OUT_OF_OFFICE = _p(
    r"\bout of (?:the )?office\b",
    r"\bout-of-office\b",
    r"\booo\b",
    r"\bauto(?:matic|mated)?[- ]?(?:reply|response|responder|antwort)\b",
    r"\b(?:on|taking|from) (?:annual |parental |maternity |paternity |sick |medical |sabbatical |study |family )?leave\b",
    r"\b(?:annual|parental|maternity|paternity|sick|medical) leave\b",
    r"\bon (?:vacation|holiday|holidays|sabbatical|pto|a business trip|business travel|the road)\b",
    r"\b(?:currently|presently) (?:away|travell?ing|out|off|unavailable|offline|on)\b",
    r"\b(?:i'?m|i am) (?:travell?ing|abroad)\b",
    r"\baway from (?:the office|my desk|my email|email|the desk)\b",
    r"\b(?:be |i'?m |i am )?(?:out|away|off|offline) (?:until|till|til|thru|through|from \w+ (?:to|until|till)|for the rest|all week|this week|next week)\b",
    r"\b(?:be|i'?m|i am) (?:out|away|off) (?:for|on|at|of)\b",
    r"\b(?:away|out) (?:at|on) (?:a|an|the) (?:conference|trade ?show|event|offsite|off-site|customer|client|retreat|course|training)",
    r"\b(?:limited|no|intermittent|sporadic|restricted|reduced) (?:access|connectivity|availability)\b",
    r"\bchecking (?:my )?(?:email|e-mail|emails|messages|mail) (?:intermittently|periodically|sporadically|occasionally|irregularly|infrequently)\b",
    r"\b(?:checked|monitored) (?:irregularly|intermittently|sporadically|periodically)\b",
    r"\b(?:slow|delayed|late) (?:to )?(?:respond|reply|responses?|replies)\b",
    r"\b(?:responses?|replies) (?:will|may|might) be (?:delayed|slow|slower)\b",
    r"\bi(?:'ll| will) (?:be )?(?:back|return)\b",
    r"\bi (?:will )?return (?:on|in)\b",
    r"\b(?:returning|return) (?:on |to the office |to work )?(?:\d|the \d|"
    + _DAYS
    + "|"
    + _MONTHS
    + r"|tomorrow|next)",
    r"\bback in the office\b",
    r"\b(?:upon|on|after) my return\b",
    r"\bwhen i(?:'m| am| get) back\b",
    r"(?<!get )(?<!come )(?<!circle )(?<!reach )(?<!call )(?<!write )(?<!ping )(?<!me )\bback (?:at work |at my desk |in office )?(?:on |by |from |in )?(?:the )?(?:\d|"
    + _DAYS
    + r"\b|"
    + _MONTHS
    + r"\b|tomorrow\b|next week\b)",
    r"\bwill (?:be )?return(?:ing)? (?:on|to the office)\b",
    r"\battending (?:a|the|an) \w*\s?(?:conference|trade ?show|event|summit|offsite|meeting)\b",
    r"\battending [a-z]+ (?:this|next|all) week\b",
    r"\bout sick\b",
    r"\b(?:i'?m|i am) away\b",
    r"^away\b",
    r"\b(?:offices?|we) (?:is |are |will be )?closed (?:for|until|till|between)\b",
    r"\b(?:for|in case of|if) (?:anything |it'?s |this is |something is |your matter is )?urgent\b",
    r"\burgent (?:matters|issues|requests|enquiries|inquiries|queries)\b",
    # de
    r"\babwesen(?:d|heit)\b",
    r"\bau(?:ß|ss)er haus\b",
    r"\bnicht im b[üu]ro\b",
    r"\bnicht erreichbar\b",
    r"\burlaub\b",
    r"\belternzeit\b",
    r"\b(?:ab|am) \S+ wieder\b",
    r"\bwieder (?:im b[üu]ro|erreichbar|da|zur[üu]ck)\b",
    r"\bin dringenden f[äa]llen\b",
    r"\bbis einschlie(?:ß|ss)lich\b",
    # fr
    r"\babsente?\b",
    r"\ben (?:cong[ée]s?|vacances|d[ée]placement)\b",
    r"\bhors du bureau\b",
    r"\bde retour\b",
    r"\bmessage automatique\b",
    r"\br[ée]ponse automatique\b",
    r"\bpour toute urgence\b",
    # es
    r"\bfuera de (?:la )?oficina\b",
    r"\b(?:estoy|estar[ée]) fuera\b",
    r"\bfuera hasta\b",
    r"\bde vacaciones\b",
    r"\bausente\b",
    r"\b(?:estar[ée]|estoy) de (?:vuelta|regreso)\b",
    r"\bregres(?:o|ar[ée]) el\b",
    r"\brespuesta autom[áa]tica\b",
    r"\ben caso de urgencia\b",
    r"\bpara asuntos urgentes\b",
)

# Someone else is the buyer (a referral, or "not my area"): below out-of-office and above intent.
_REFERRAL = _p(
    r"\bwrong (?:person|contact|guy|gal|individual|department|email|e-mail|inbox|address|mailbox|team|number|company|one)\b",
    r"\A\W*wrong \w+",
    r"\bnot the (?:right|correct|appropriate|best|relevant) (?:person|contact|one|individual|department|team|inbox|address)\b",
    r"\b(?:i'?m|i am) not (?:responsible|in charge|involved|the (?:decision|right|person|one|buyer|owner|best|correct))\b",
    r"(?:\bnot|n't) (?:my|our) (?:area|department|responsibility|remit|call|decision|role|job|domain|team|field|wheelhouse)\b",
    r"\b(?:do ?n't|do not|doesn't|does not) (?:handle|manage|deal with|look after|own|cover|work on|make) "
    r"(?:this|that|these|those|marketing|sales|it|the|such|purchasing|vendor|buying|any)\b",
    r"\bnot the decision[- ]?maker\b",
    r"\b(?:you should|please|you'?ll want to|you'?d want to|you want to|you may want to|you might want to|"
    r"best to|better to|you need to|you'?d need to|you would need to|you'?d be better off) (?:reach(?:ing)? out to|contact(?:ing)?|speak(?:ing)? (?:to|with)|"
    r"talk(?:ing)? (?:to|with)|get(?:ting)? in touch with)(?! (?:me|us)\b)",
    r"\b(?:reach out to|contact|talk to|speak (?:to|with)|e-?mail|write to|try) (?:her|him|them) (?:directly|instead)\b",
    r"\b(?:contact|reach out to|talk to|speak (?:to|with)|write to|try|ask)\b[^.!?\n]{0,60}\binstead\b",
    r"\btry (?:our|the|my) (?:\w+ )?(?:team|department|" + _ROLE + r")\b",
    rf"\btry \w+ (?:in|from|on) (?:the )?{_DEPT}\b",
    r"\b(?:she|he|they)(?:'s| is| are)? (?:handles|owns|runs|manages|looks after|deals with|covers|is responsible|is in charge|"
    r"the (?:one|person|right person|best person|decision|buyer|owner|contact))\b",
    r"\b(?:forward(?:ed|ing)?|pass(?:ed|ing)?|send(?:ing)?|sent) (?:this|it|your (?:email|e-mail|message|note|request))? ?"
    r"(?:along |on )?to (?:the )?(?:right|relevant|appropriate|responsible|correct) (?:person|people|team|contact)",
    r"\bi(?:'ll| will) pass (?:this|it|your \w+) (?:along|on)\b",
    r"\bi think you (?:want|mean|meant|need|are looking for|'re looking for)\b",
    r"\byou (?:probably |might |may |likely )?(?:want|need|mean|are looking for|'re looking for|are after|'re after) "
    r"(?:someone|somebody|a different|another|to (?:talk|speak))\b",
    r"\b(?:have|got) me (?:confused|mixed up)\b",
    r"\b(?:confused|mixed) me (?:up )?with\b",
    r"\bmistaken (?:me )?for\b",
    r"\b(?:have|got) the wrong\b",
    r"\bshared (?:inbox|mailbox|address|account)\b",
    r"\b(?:inbox|mailbox|address) is (?:only )?for\b",
    r"\b(?:our|my) " + _ROLE + r" (?:does|is the|handles|owns|decides|makes|would be)\b",
    r"\b(?:is|are) handled by\b",
    r"\b(?:questions|enquiries|inquiries|requests|matters|emails|things) (?:like this |like these |about (?:this|that) )?(?:should )?go to\b",
    r"\b(?:this|that|it|your (?:email|e-mail|message|note|request|pitch)) (?:should|would need to|needs to) "
    r"(?:go|be sent|be directed|be addressed|be forwarded) to\b",
    r"\byou(?:'re| are) (?:probably |likely )?(?:looking for|after) (?:the|our|my) (?:\w+ ){0,2}"
    r"(?:team|department|office|person|people|group|division|folks)\b",
    r"\b(?:team|department|office|group|division) (?:makes?|takes?|handles?|owns?) (?:these|those|this|that|such|the) "
    r"(?:calls|decisions?|purchases|purchasing|choices)\b",
    r"\bi only (?:manage|handle|cover|look after|work on|run|deal with)\b",
    # de
    r"\bfalsche[rn]? (?:ansprechpartner|person|kontakt)\b",
    r"\bnicht (?:der|die) richtige\b",
    r"\bnicht zust[äa]ndig\b",
    r"\b(?:ist|sind) (?:daf[üu]r )?zust[äa]ndig\b",
    r"\bwenden sie sich (?:bitte )?an\b",
    # fr
    r"\bpas la bonne personne\b",
    r"\bmauvais(?:e)? (?:personne|interlocuteur|contact|adresse)\b",
    r"\bpas moi qui\b",
    r"\b(?:voyez|voir) avec\b",
    r"\badressez[- ]vous [àa]\b",
    r"\bpas (?:mon|de mon) (?:domaine|ressort|r[ôo]le)\b",
    # es
    r"\bno (?:soy|es) la persona (?:adecuada|correcta|indicada)\b",
    r"\bpersona equivocada\b",
    r"\b(?:le|te) (?:paso|reenv[ií]o|env[ií]o) (?:su|tu|el) (?:correo|mensaje|email)\b",
    r"\bno me corresponde\b",
    r"\b(?:escr[ií]ba(?:le|me)?|hable|contacte|dir[ií]jase) (?:con |a )(?:mi |nuestr[oa] |la |el )?[a-z]",
)

_NOT_INTERESTED = _p(
    # negated interest: "not interested", "isn't really a fit", "not that keen" (no punctuation between)
    _NEGATOR + r"(?:\s+(?!but\b)[\w']+){0,2}?\s+" + _INTEREST + r"\b",
    r"\bno (?:longer )?interest(?:ed)?\b",
    r"\bnot for (?:us|me|now)\b",
    r"\bnot (?:at|right) (?:this|the) (?:moment|time|point)\b",
    r"\bnot (?:right )?now\b",
    r"\bnot (?:this|next) (?:year|quarter|time|month)\b",
    r"\bnot a (?:need|priority|fit|match)\b",
    r"\bso,? no\b(?! (?:worries|problem|rush|pressure)\b)",
    r"\b(?:won'?t|will not|are ?n'?t|are not|is ?n'?t|is not) (?:be )?(?:exploring|pursuing|proceeding|moving ahead|going ahead|"
    r"considering|looking at|buying|investing|changing|switching|taking (?:this|it|you) up)\b",
    r"\b(?:we|the team|our team|i)(?:'re| are| is| am|'m) (?:very |really |quite |pretty )?(?:happy|satisfied|content)\b(?! to\b)",
    r"\b(?:frozen|freez(?:e|ing)|froze|paused|halted|cut) (?:all |our |the |any )?(?:\w+ )?(?:spend(?:ing)?|budgets?|purchas(?:es|ing)|hiring)\b",
    r"\b(?:spending|budget|hiring|vendor) (?:freeze|frozen|cuts?)\b",
    r"\b(?:winding down|shutting down|scaling back|cutting back)\b",
    r"\bnot in a position\b",
    r"\b(?:won'?t|will not|not|are ?n't|are not|is ?n't|is not) (?:be )?(?:moving|going|taking (?:this|it)) forward\b",
    r"\blocked (?:in|into)\b",
    r"\b(?:under|in) (?:a |an )?(?:\w+ )?contract (?:with|until|till|through|for)\b",
    r"\bnot (?:the )?(?:right|good|best) (?:size|stage|time|timing|moment|fit|match)\b",
    r"\bnot (?:a )?(?:good|great|the right|the best) time\b",
    r"\btiming(?:'s| is)? (?:not|n't|bad|off|wrong)\b",
    r"\bbad timing\b",
    r"\btoo (?:expensive|pricey|costly|high|steep)\b",
    r"\b(?:we'?re|we are|it'?s|it is|this is|that'?s|that is) (?:a bit |far |way |much |just )?too (?:small|early|big|large|expensive|late|soon|pricey)\b",
    r"\b(?:we'?ve|we have|we'?re|we are|i'?ve|i have|i'?m|i am) (?:got )?(?:this |it |that |all |everything )?(?:covered|sorted|handled|taken care of)\b",
    r"\b(?:did ?n't|did not|does ?n't|does not|won'?t|will not) work (?:out )?for us\b",
    r"\b(?:already )?tried (?:something similar|this|it|that|a similar|similar)\b",
    r"\b(?:revisit|reconsider|re-?evaluate|look again|look at (?:this|it) again)\b[^.!?\n]{0,20}\b(?:next|later|after|in (?:q\d|\d|a few|the new))",
    r"\bnot (?:taking on|adding|onboarding|considering|looking|evaluating|buying|hiring|outsourcing|investing|exploring|"
    r"changing|switching|in the market|planning|ready)\b",
    r"\b(?:no|zero) (?:plans?|need|budget|capacity|bandwidth|appetite)\b",
    r"\b(?:do ?n't|do not|does ?n't|does not|won't|will not)(?: really| currently)? (?:have )?(?:a |any |the )?"
    r"(?:need|budget|capacity|bandwidth|plan to|plans to|intend to|see (?:a|the|much|any) (?:need|fit|value|use))\b",
    r"\b(?:do ?n't|do not) (?:think|believe) (?:we|i|this|that|it)(?:'d| would| will| need| are| is| could| can)\b",
    r"\bno,? thanks?\b",
    r"\bno,? thank you\b",
    r"\bthanks?,? but no\b",
    r"\bbut no\b",
    r"\b(?:say|saying|answer is|it'?s a|still|that'?s a) no\b",
    r"\A\W*(?:no|nope|nah|pass|hard pass)\b(?! (?:problem|worries|rush|pressure|doubt)\b)",
    r"\bnah\b",
    r"\b(?:we'?re|we are|i'?m|i am) (?:all set|good|covered|fine|set|sorted|ok|okay)(?! to go)\b",
    r"\bhappy (?:with (?:our|what|the|how|current|our current|where)|where we are|as we are|as is)\b",
    r"\balready (?:have|has|use|using|work|working|partnered|signed|got|in place|set|covered|committed|decided|invested|run)\b",
    r"\bwith (?:another|a different|an existing|our current|our existing|a competing) (?:\w+ )?(?:provider|vendor|agency|partner|solution|tool|supplier|company)\b",
    r"\b(?:signed|went|going|gone|go|chose|chosen|selected|picked) (?:with|for) (?:a |an |another |someone|somebody|a different)",
    r"\bcompetitor\b",
    r"\bdifferent direction\b",
    r"\bdecided (?:to go|against|not)\b",
    r"\b(?:we(?:'ll| will)?|i(?:'ll| will)?|have to|going to|gonna|gotta|must|will) (?:pass|decline|skip)\b(?! (?:this|it|your \w+) (?:along|on)| along| on to| to)",
    r"\bpass on (?:this|it|that|the)\b",
    r"\bsit (?:this|it) (?:one )?out\b",
    r"\bdecline\b",
    r"\bnot looking\b",
    r"\bdon'?t need\b",
    r"\bdo not need\b",
    r"\b(?:is ?n'?t|not) something (?:we|i)\b",
    r"\bplease don'?t follow up\b",
    r"\bstick(?:ing)? with\b",
    r"\bin-?house\b",
    r"\b(?:handle|handled|do|done|manage|managed|run|keep|kept|build|built|bring|brought) [^.!?\n]{0,40}\binternally\b",
    r"\bno (?:room|space) (?:for|in)\b",
    r"\bcan'?t (?:justify|afford|take (?:this|it|that|on)|commit|look at|consider|prioriti[sz]e)\b",
    r"\b(?:circle|check|reach|come|ping me|touch base) (?:back )?(?:in|after) (?:q\d|\d+ months|a few months|the new year|"
    + _MONTHS
    + r"|our|the next)\b",
    r"\b(?:maybe|perhaps|possibly|try (?:again|me)) (?:next (?:year|quarter)|in (?:q\d|the new year|a few months|\d+ months))\b",
    # de
    r"\bkein(?:e|en)? (?:interesse|bedarf)\b",
    r"\bnicht interessiert\b",
    r"\bnicht (?:relevant|passend|interessant)\b",
    r"\bkein(?:e|en)? (?:zeit|budget)\b",
    r"\bnein,? danke\b",
    r"\b(?:brauchen|ben[öo]tigen) wir nicht\b",
    r"\b(?:haben|nutzen|arbeiten|sind) (?:\w+ )?(?:bereits|schon) ",
    r"\b(?:derzeit|aktuell|momentan|zurzeit) (?:kein|nicht)\b",
    r"\bpasst (?:\w+ )?(?:gerade |leider |derzeit )?nicht\b",
    # fr
    r"\bpas int[ée]ress[ée]e?s?\b",
    r"\bne (?:sommes|suis) pas (?:int[ée]ress|[àa] la recherche|preneur)",
    r"\bne (?:cherchons|recherchons) pas\b",
    r"\bnon,? merci\b",
    r"\bpas besoin\b",
    r"\bpas pour (?:nous|le moment|l'instant|moi)\b",
    r"\b(?:avons|travaillons|utilisons|sommes) d[ée]j[àa]\b",
    r"\bpas (?:le moment|prioritaire|une priorit[ée])\b",
    r"\bne (?:nous|m') ?interesse pas\b",
    # es
    r"\bno (?:me|nos) interesa\b",
    r"\bno (?:estamos|estoy) interesad[oa]s?\b",
    r"\bno (?:estamos buscando|buscamos|queremos|tenemos (?:presupuesto|inter[ée]s|necesidad))\b",
    r"\bno,? gracias\b",
    r"\bno necesitamos\b",
    r"\bno es para nosotros\b",
    r"\bno es (?:una )?prioridad\b",
    r"\bya (?:tenemos|trabajamos|usamos|contamos)\b",
    r"\b(?:por ahora|ahora mismo|de momento) no\b",
    r"\bno por (?:ahora|el momento)\b",
    r"\bno (?:nos|me) (?:encaja|cuadra|convence|sirve)\b",
    r"\bno (?:me |nos )?(?:parece|resulta|es) (?:\w+ )?interesante\b",
    r"\bpero no\b",
)

_GREETING = r"(?:hi|hey|hello|dear|thanks?|thank you)"
_INTERESTED = _p(
    r"\binte?re?st(?:ed|ing)\b",
    r"\b(?:keen|curious|intrigued|excited)\b",
    r"\b(?:sounds?|looks?) (?:good|great|interesting|promising|useful|relevant|like a (?:good )?fit)\b",
    r"\b(?:could|might|may|would) be (?:useful|interesting|relevant|a (?:good )?fit|helpful|valuable|worth)\b",
    r"\bopen to (?:it|this|that|a|an|the|learning|hearing|exploring|chat|talk)",
    r"\b(?:let'?s|can we|could we|shall we|happy to|glad to|love to|like to|want to|keen to|willing to) "
    r"(?:talk|chat|connect|meet|speak|set|schedule|book|find|hop|jump|take (?:a|the)|have (?:a|the)|do (?:it|a|the|this)|"
    r"see (?:a|the|how|more|it)|learn|hear|explore|discuss|get (?:on|a|together|started))",
    r"\b(?:i'?d|i would|we'?d|we would) (?:like|love) (?:a|an|to see|to learn|to hear|to talk|to chat|to discuss|to explore|"
    r"to meet|to know more|more|some|to try|to get)\b",
    r"\b(?:book|schedule|set up|arrange|grab|find|put) (?:me in|us in|something|a time|a slot|some time|time|a call|a meeting|"
    r"a demo|a chat|(?:a )?\d+ ?min)",
    r"\bbook (?:me|us)\b",
    r"\bset (?:something|it|this|a time|a call|one|that) up\b",
    r"\b(?:send|share|shoot|give) (?:me |us |over |through )?(?:some |a few |a couple of |your |a |the )?(?:times|slots|availability|dates|"
    r"calendar|invite|calendar link|link to book|booking link)",
    r"\b(?:what|which) (?:times?|days?|slots?|dates?) (?:work|suit|are|would)\b",
    r"\b(?:do|would|will) you have (?:time|availability|a slot|\d+ ?min|some time)\b",
    r"\b(?:free|available) (?:for|to) (?:a )?(?:call|chat|talk|meet)",
    r"\bwhen (?:are )?you(?:'re| are)? free\b",
    r"\b(?:"
    + _DAYS
    + r"|tomorrow|morning|afternoon|\d ?(?:am|pm)) (?:\w+ ){0,2}(?:works|is good|suits|is fine|would work)\b",
    r"\bworks for me\b",
    r"\b(?:if|when) (?:that|it|this) works\b",
    r"\b(?:i'?m|i am|we'?re|we are) (?:free|available)\b",
    r"\b(?:can|could) you do (?:" + _DAYS + r"|\d|tomorrow|next)",
    r"\bhow (?:does|is|about) (?:" + _DAYS + r"|\d|tomorrow|next)",
    r"\b(?:my|our) calendar\b",
    r"\bcalendar invite\b",
    r"\bcalendly\b",
    r"\b\d+ ?min(?:ute)?s?\b",
    r"\b(?:call|ring|phone) me\b",
    r"\bcould you (?:call|ring) me\b",
    r"\bgive me a (?:call|ring)\b",
    r"\b(?:send|share) (?:me |us |over |through )?(?:the |a |your |some |more )?(?:info|information|details|deck|one-?pager|overview|"
    r"case stud(?:y|ies)|brochure|pricing|proposal|quote|materials|slides|examples|more)\b",
    r"\btell me more\b(?! about (?:who|what) you)",
    r"\blearn more\b",
    r"\b(?:more|additional) (?:info|information|details)\b",
    r"\bhow much\b",
    r"\bpric(?:ing|es?)\b",
    r"\bwhat (?:does|would|will) (?:it|this|that|a \w+|the \w+) cost\b",
    r"\bcost us\b",
    r"\bwhat (?:would|does|will) .{1,30} look like\b",
    r"\bhow (?:would|does|do|will) (?:this|it|that|you|onboarding|pricing|implementation|the \w+) (?:work|compare|integrate|help|handle)\b",
    r"\bcompares? (?:to|with)\b",
    r"\bdoes (?:this|it) (?:integrate|work with|support)\b",
    r"\bdemo\b",
    r"\bpilot\b",
    r"\bfree trial\b",
    r"\bwhen can we (?:talk|chat|meet|speak)\b",
    r"\bwhat results\b",
    r"\bwalk (?:me|us) through\b",
    r"\bnext steps?\b",
    r"\bminimum (?:commitment|term|contract|spend|order|engagement)\b",
    r"\bcontract (?:length|terms)\b",
    r"\bwe should (?:talk|chat|meet|speak|connect|discuss|set up)\b",
    r"\bwould it be possible to (?:see|get|have|talk|set|schedule|book|arrange)\b",
    r"\b(?:see|share|send|show) (?:me |us )?(?:some |a few |any |two |three |a couple of )?(?:samples?|examples?|references|"
    r"case studies|sample \w+)\b",
    r"\b(?:references|clients|customers) (?:we|i) (?:could|can|might) (?:speak|talk) (?:to|with)\b",
    r"\bworth a (?:chat|conversation|look|call|try)\b",
    r"\b(?:good|great|perfect) timing\b",
    r"\btiming is (?:actually )?(?:good|great|decent|right|perfect)\b",
    r"\btimely\b",
    r"\bcount me in\b",
    r"\bi'?m in\b",
    r"\bgo on then\b",
    r"\bgo ahead\b",
    # greetings before a yes ("Hi John, thanks, yes"): a greeting's clause may hold commas, but not
    # one followed by the next greeting, which starts an item of its own; without that the two
    # could split "hi,hi,hi,..." every way there is (exponential: 24 of them took 6 s)
    rf"\A(?:{_GREETING}\b(?:(?![.!,\n]\s*{_GREETING}\b)[^.!?\n])*[.!,\n]\s*)*"
    r"(?:yes|yeah|yep|yup|sure|absolutely|definitely|certainly|of course|why not|ja|oui|claro|si[,.!])",
    # de
    r"\bgerne\b",
    r"\binteressant\b",
    r"\bspannend\b",
    r"\bklingt (?:gut|spannend|interessant|vernunftig|sinnvoll|super|toll)\b",
    r"\btelefonieren\b",
    r"\b(?:k[öo]nnen|sollen|wollen) wir (?:\w+ ){0,3}(?:sprechen|reden|treffen)\b",
    r"\brufen sie mich\b",
    r"\bmehr (?:infos?|informationen|erfahren)\b",
    r"\btermin\b",
    r"\bpasst (?:ihnen|es|dir)\b",
    # fr
    r"\bint[ée]ress",
    r"\bvolontiers\b",
    r"\bavec plaisir\b",
    r"\bpourquoi pas\b",
    r"\bm'appeler\b",
    r"\bappelez[- ]moi\b",
    r"\bun appel\b",
    r"\brendez-vous\b",
    r"\bplus d'informations\b",
    r"\ben savoir plus\b",
    r"\bdisponibilit",
    r"\bd'en (?:discuter|parler)\b",
    # es
    r"\b(?:me|nos) interesa\b",
    r"\b(?:me|nos) gustar[ií]a\b",
    r"\bsaber m[áa]s\b",
    r"\bm[áa]s informaci[óo]n\b",
    r"\bhablemos\b",
    r"\b(?:podemos|podr[ií]amos|quisiera|quiero) (?:hablar|reunirnos|agendar|ver|conocer|una)\b",
    r"\bagend(?:emos|ar|amos)\b",
    r"\bcon gusto\b",
    r"\buna llamada\b",
    r"\binteresante\b",
    r"\b(?:tienen|tiene|hay) (?:\w+ )?(?:casos|ejemplos|referencias|clientes)\b",
)

# Where quoted history starts (our own outreach text must not be classified as their words), and
# where a signature or legal disclaimer starts (its "not the intended recipient" is not a referral).
_QUOTE_START = _p(
    r"^on .{3,160} wrote:\s*$",
    r"^-{2,}\s*original message\s*-{2,}",
    r"^-{2,}\s*forwarded message",
    r"^begin forwarded message",
    r"^_{5,}\s*$",
    r"^from:\s",
    r"^sent from my ",
    r"^get outlook for ",
    r"^--\s*$",
    r"^(?:this|the information in this) e-?mail (?:and any|is confidential|message|may contain|contains)",
    r"^(?:confidentiality notice|disclaimer)\b",
    r"^am .{3,80} schrieb .{0,80}:\s*$",
    r"^le .{3,80} a [ée]crit\s*:\s*$",
    r"^el .{3,80} escribi[óo]\s*:\s*$",
    r"^von:\s",
    r"^de\s?:\s",
)


def strip_quoted(text: str) -> str:
    """The reply's own words: lines before the quoted history or signature, without ``>`` lines."""
    kept: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if _QUOTE_START.search(s):
            break
        if s.startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


_POLITE = frozenset({"please", "pls", "plz", "now", "thanks", "thank you", "thx"})


def is_stop_word(text: str) -> bool:
    """True when the whole message is an opt-out keyword (SMS STOP and friends), any case.

    Punctuation and symbols around it do not hide it ("Cancel?", "STOP 🙏"), nor a word of
    politeness before or after ("Quit pls", "please stop"): an opt-out missed is a person texted
    again against their will, while these messages say nothing else.
    """
    word = _bare(text)
    if word in STOP_WORDS:
        return True
    for polite in _POLITE:
        for rest in (word.removeprefix(polite + " "), word.removesuffix(" " + polite)):
            if rest != word and rest in STOP_WORDS:
                return True
    return False


# SMS program keywords that are not a person answering (reference section 4: carriers make HELP
# mandatory; START/UNSTOP opt back in), as the whole message: recorded, but no reply effects.
SMS_KEYWORDS: dict[str, str] = {"help": "help", "info": "help", "start": "start", "unstop": "start"}
# the channels a reply carrying one of the FCC's per se words anywhere revokes consent on
_PER_SE_CHANNELS = frozenset({"sms", "phone"})


def _bare(text: str) -> str:
    """The message as is_stop_word reads it: lower case, punctuation and symbols dropped."""
    normal = unicodedata.normalize("NFKC", text).lower()
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZC" and ch not in "-" else ch for ch in normal)
    return " ".join(kept.split()).strip(" -")


def sms_keyword(text: str) -> str | None:
    """ "help" for HELP / INFO, "start" for START / UNSTOP as the whole message (any case,
    punctuation around it), else None. Opting back in is never automatic: "start" changes nothing."""
    return SMS_KEYWORDS.get(_bare(text))


# The FCC's per se revocation words (reference section 4: "Replies of 'stop, quit, end, revoke, opt
# out, cancel, unsubscribe' are revocation per se"): in a reply to a text, anywhere in it, not only
# opening or closing it ("I want to cancel", "Who is this? Stop", "Please end these"). Not when the
# word is plainly something else: joined to a word by a hyphen ("end-to-end", "non-stop"), a noun
# after an article or a noun-making word ("the end", "month end", "a hard stop"), negated ("don't
# stop", "will it ever stop"), a statement about oneself ("I quit", "where should we stop"; "can
# you stop" still counts), "stop by/in/over" (a visit), "end of/up", "quit my job"; cancel/end not
# in a reply about a meeting ("cancel our call tomorrow", as for every channel). A question is no
# exception ("Stop? why"): the FCC allows one confirmation text, and a missed revocation is a text
# sent against the person's will.
_PER_SE = re.compile(r"(?<![\w'-])(?:stop(?:all)?|quit|end|cancel|revoke|opt[- ]?out|unsubscribe)(?![\w'-])")
_PER_SE_NOT_AFTER = re.compile(
    r"(?:^|[^\w'])(?:do ?n't|dont|does ?n't|doesnt|did ?n't|didnt|never|not|can't|cant|cannot|won't|wont|"
    r"the|a|an|hard|full|bus|pit|truck|whistle|rest|non|one|next|last|first|final|quick|short|brief|"
    r"emergency|year|month|quarter|week|day|deep|dead|back|front|tail|far|low|high|top|bottom|rear|"
    r"west|east|north|south|ever|i|we|they|he|she|it)[^\w'\n]{0,3}\Z"
)
_PER_SE_NOT_BEFORE = {
    "stop": re.compile(r"[^\S\n]+(?:by|in|over|off at)\b"),
    "end": re.compile(r"[^\S\n]+(?:of|up|users?|date|point|goal|results?|game|product)\b"),
    "quit": re.compile(r"[^\S\n]+(?:my|his|her|their|our|job|smoking|drinking|in|at|last)\b"),
}
_MEETING = re.compile(_ABOUT_A_MEETING.replace("subscription|", ""))


def _revokes_per_se(folded: str) -> bool:
    """A reply to a text holding one of the FCC's per se words as itself (see above)."""
    meeting: bool | None = None
    for m in _PER_SE.finditer(folded):
        word = m.group()
        if _PER_SE_NOT_AFTER.search(folded, max(0, m.start() - 24), m.start()):
            continue
        after = _PER_SE_NOT_BEFORE.get(word)
        if after is not None and after.match(folded, m.end(), m.end() + 24):
            continue
        if word in ("cancel", "end"):
            if meeting is None:
                meeting = _MEETING.search(folded) is not None
            if meeting:
                continue
        return True
    return False


class RuleClassifier:
    """Precedence-ordered phrase families; see the module docstring for why the order is what it is.

    ``channel`` is optional (None: not known). On ``sms`` and ``phone``, one of the FCC's per se
    words anywhere in the reply is an unsubscribe; on ``sms`` a bare HELP / INFO / START / UNSTOP
    is an SMS keyword (``Classification.keyword``), not a person answering. Elsewhere (or on no
    known channel) the per se words count only where the rules below find them, and those words
    are ordinary replies.
    """

    def classify(
        self, text: str, *, received: date | None = None, channel: str | None = None
    ) -> Classification:
        if is_stop_word(text):
            return Classification("unsubscribe", 1.0)
        if channel == "sms":  # "Info" or "Help" as an email reply is a person answering
            keyword = sms_keyword(text)
            if keyword is not None:
                return Classification("other", 1.0, keyword=keyword)
        own = unicodedata.normalize("NFKC", strip_quoted(text))
        if not own:
            # Nothing of their own above our quoted email: never read our text as theirs.
            return Classification("other", 0.3)
        if is_stop_word(own):
            return Classification("unsubscribe", 1.0)
        folded = fold(own)
        if _UNSUBSCRIBE.search(folded):
            return Classification("unsubscribe", 0.9)
        if channel in _PER_SE_CHANNELS and _revokes_per_se(folded):
            return Classification("unsubscribe", 0.9)
        if _DEPARTED.search(folded):
            return Classification("wrong_person", 0.85)
        if _OUT_OF_OFFICE.search(folded):
            return Classification("out_of_office", 0.85, find_return_date(own, received or date.today()))
        if _REFERRAL.search(folded):
            return Classification("wrong_person", 0.75)
        if _NOT_INTERESTED.search(folded):
            return Classification("not_interested", 0.8)
        if _INTERESTED.search(folded):
            return Classification("interested", 0.7)
        return Classification("other", 0.3)


def default_classifier() -> Classifier:
    return RuleClassifier()


__all__ = [
    "SMS_KEYWORDS",
    "STOP_WORDS",
    "Classification",
    "Classifier",
    "RuleClassifier",
    "default_classifier",
    "fold",
    "is_stop_word",
    "sms_keyword",
    "strip_quoted",
]
