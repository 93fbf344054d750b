import logging
import sys
import textwrap

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.bot.trying import DEFAULT_USER_ID, Chat, Seen, TestUser

HELP = "Lines are messages (/commands work). :press N presses the Nth button of the last keyboard; :quit ends."


class Command(BaseCommand):
    help = (
        "Chat with the bot in the terminal, as a Telegram user, through the whole real path (inbox, "
        "handlers, LLM, billing, analytics) against a stand-in for the Bot API: no Telegram needed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user-id", type=int, default=DEFAULT_USER_ID, help=f"the Telegram user (default {DEFAULT_USER_ID})"
        )
        parser.add_argument("--language", default="ru", help="the user's language_code (default ru)")
        parser.add_argument("--first-name", default="Tester", help="the user's first name")
        parser.add_argument(
            "--say",
            action="append",
            default=[],
            metavar="TEXT",
            help="send TEXT (or :press N), print the answer; repeatable",
        )

    def handle(self, *args: object, user_id: int, language: str, first_name: str, say: list[str], **options):
        if user_id <= 0:
            raise CommandError("a Telegram user's id is positive")
        self.verbosity = int(options.get("verbosity", 1))
        chat = Chat(TestUser(user_id=user_id, first_name=first_name, language=language))
        # The bot's INFO and WARNING logs (Celery's task lines, say) would break up the conversation; a failed
        # update is shown in it. -v 2 shows them, and drafts and chat actions too.
        if self.verbosity <= 1:
            logging.disable(logging.WARNING)
        try:
            self._talk(chat, say)
        finally:
            if self.verbosity <= 1:
                logging.disable(logging.NOTSET)

    def _talk(self, chat: Chat, say: list[str]) -> None:
        user = chat.user
        if say:
            for line in say:
                if not self._line(chat, line.strip(), typed=None):
                    return
            return
        self.stdout.write(f"Chatting as {user.first_name} (id {user.user_id}, {user.language}). {HELP}")
        terminal = sys.stdin.isatty()
        while True:
            try:
                line = input("you › " if terminal else "").strip()
            except (EOFError, KeyboardInterrupt):
                self.stdout.write("")
                return
            if line and not self._line(chat, line, typed=line if terminal else None):
                return

    def _line(self, chat: Chat, line: str, *, typed: str | None) -> bool:
        """One line, typed or given with --say: a message, or :press N, or :quit (False: the chat ends)."""
        if line in (":quit", ":q", ":exit"):
            return False
        try:
            if line.startswith(":press"):
                number = line.removeprefix(":press").strip()
                self._show(chat.press(int(number) if number.isdigit() else 0))
            elif line.startswith(":"):
                self.stdout.write(HELP)
            else:
                self._show(chat.say(line), typed=typed)
        except ValueError as error:
            self.stdout.write(f"  ({error})")
        return True

    def _show(self, seen: list[Seen], *, typed: str | None = None) -> None:
        """What the bot did, in order; what the user sent too, but for the line they just typed."""
        drafts = 0
        for entry in seen:
            if entry.kind == "draft":
                drafts += 1
                if self.verbosity > 1:
                    self.stdout.write(f"bot … {_one_line(entry.text)}")
                continue
            if drafts and self.verbosity <= 1:
                self.stdout.write(f"bot … ({drafts} draft{'s' if drafts > 1 else ''} while typing)")
            drafts = 0
            if entry.kind == "you" and entry.text == typed:
                continue
            for line in _lines(entry, verbosity=self.verbosity):
                self.stdout.write(line)


def _lines(entry: Seen, *, verbosity: int) -> list[str]:
    if entry.kind == "you":
        return [f"you › {entry.text}"]
    if entry.kind == "action":
        return [f"bot · {entry.text}…"] if verbosity > 1 else []
    if entry.kind == "notice" and not entry.text:
        return ["bot · (button answered)"] if verbosity > 1 else []
    mark = {"message": "›", "edit": "✎", "invoice": "›", "notice": "!", "refused": "✗", "failed": "✗"}
    lines = _indented(f"bot {mark.get(entry.kind, '·')} ", entry.text)
    lines += [f"      [{number}] {button.get('text', '')}" for number, button in enumerate(entry.buttons, 1)]
    return lines


def _indented(prefix: str, text: str) -> list[str]:
    first, *rest = text.splitlines() or [""]
    return [prefix + first] + [textwrap.indent(line, " " * len(prefix)) if line else "" for line in rest]


def _one_line(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else "…" + flat[-(width - 1) :]
