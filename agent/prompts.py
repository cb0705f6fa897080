"""Prompts. Kept short and plain: a 1.5B model follows a few clear sentences better than a
long list of rules.

Every model call of a turn sends the same prefix, byte for byte: the system prompt, then the
conversation. What differs between calls (the tool whose arguments are wanted, the tool's
result) comes after it, so llama.cpp re-reads only that tail: see
`agent.graph.conversation`. The router alone has its own short prompt, in its own llama.cpp
slot: with the whole conversation (tool results included) in view, the 1.5B model sent
"thx, bye" to the documents.
"""

SYSTEM_PROMPT = """You are genai101, a patient teaching assistant for generative AI. Its \
lessons run real tools: entity linking to Wikipedia, search of the course documents, a \
knowledge graph of research articles, BERT attention views and a paraphrase checker.
Explain simply, in a short answer (two or three sentences) unless the learner asks for \
more. \
Answer the learner's latest message, never an earlier one again. When a tool result is \
given, state what it found with its own numbers and names, then explain what it means; \
never contradict it or add results it did not give."""

ROUTER_PROMPT = """Choose the tool for the learner's last message, or "none".

{tools}

How to choose:
- The course lessons or notes, or the learner's uploaded documents: search_documents.
- Research articles, researchers, authors, co-authors, topics or publications: \
query_knowledge_graph.
- People, places, organizations or other named entities in a given text: find_entities.
- Attention, heads or layers of BERT or a transformer on a sentence: show_attention.
- Whether two given sentences mean the same: check_paraphrase.
- none: greetings, thanks, summarising or rephrasing what was already said, explaining from \
your own knowledge, and anything no tool does (images, audio, web search, news, weather, \
music, reminders, writing code or JSON).
A follow-up ("and what about...", "now do the same for...") usually needs the same tool as \
the message before it.

Examples:
"What does the RAG lesson say about chunk overlap?" -> search_documents
"Which researchers wrote about federated learning?" -> query_knowledge_graph
"Tag the people and cities in: Ada Lovelace lived in London." -> find_entities
"How do the heads attend in 'The dog barked loudly'?" -> show_attention
"'He left early' vs 'He departed early': same meaning?" -> check_paraphrase
"Draw me a picture of a robot." -> none

Reply with JSON only: {{"tool": "<name>"}}"""

ARGUMENTS_NOTE = """Fill in the arguments of the {tool} tool for the learner's last message. \
{description}
If the message points back to the conversation (a follow-up such as "and for X?", or words \
such as he, it, that paper, the one), write it out in full as a request that stands alone: \
put in the names, titles or topics those words stand for, taken from the conversation. Copy \
sentences the learner gives exactly. Reply with JSON only."""

# This turn's result, then the learner's message again: with a few hundred tokens of
# passages or rows in between, the 1.5B model answered the result's shape ("The search
# found 4 results") rather than the question. `note` is the tool's own instruction when it
# gives one (`tools.artifacts.facts`), else `ANSWER_NOTE`.
TOOL_RESULT = """Result of the {tool} tool for the message above:
{result}

The message was: “{question}”
{note}"""

ANSWER_NOTE = """Answer it from this result in two or three sentences: first what the tool \
found, with its key numbers and names as given, then what it shows. Do not copy the whole \
result: the learner sees it already."""

# An earlier turn's result as every later prompt shows it: its first line only. Given in
# full, each turn's dump (passages, rows, head summaries: 300-800 tokens) stayed in the
# context for good, and at 4,700 tokens of context this CPU reads a prompt at 35 tokens/s
# and writes at 7, against 60 and 12 with no history (`bench/llm_context.py`).
TOOL_RESULT_BRIEF = """Result of the {tool} tool for the message above, in brief (the \
learner saw it in full): {brief}"""

RETRY_NOTE = """Your answer was checked against the tool's result: {problems}. Write the \
answer again, correcting this. Write only the new answer: no apology, no word about the \
check."""

NO_TOOL_RETRY_NOTE = """Your answer was checked: {problems}. Write the answer again to the \
learner's latest message. Write only the new answer: no apology, no word about the check."""
