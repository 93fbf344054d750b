WELCOME_NEW = (
    "Hello, {name}! I am your AI companion. Write to me about anything that is on your mind, and I will answer."
)
WELCOME_BACK = "Welcome back, {name}! Write to me whenever you are ready."
NEW_SESSION_CONFIRM = "You have a conversation in progress. Finish it and start a new one?"
NEW_SESSION_YES = "Yes, start anew"
NEW_SESSION_NO = "No, continue"
NEW_SESSION_STARTED = "A new conversation has started. What is on your mind?"
NEW_SESSION_KEPT = "Good, let us continue where we were."
BUY_BUTTON = "Top up"
CHOOSE_PACKAGE = "Choose a package. You pay with Telegram Stars."
NO_PACKAGES = "Top-ups are not available right now. Please try again later."
PAYMENT_THANKS = "Thank you! {credits} {unit} added. Your balance: {balance} {unit}."
BALANCE = "Your balance: {balance} {unit}. Latest operations:"
JOURNEY_UNKNOWN = "Your journey has not been read yet: talk with me a little, and finish a conversation with /new."
JOURNEY_STAGE = "You are at stage {number} of {total} of the hero's journey: {stage}."
UNKNOWN_COMMAND = "I do not know that command. Just write to me in your own words."
STATS = (
    "Today ({date}): {active_users} active users, {new_users} new, {messages} messages.\n"
    "LLM: {tokens} tokens, cost ${cost}. Revenue ${revenue}, margin ${margin}."
)
PROGRESS_SAVED = (
    "Temporary technical problems on our side. Your progress is saved: write again in a little while "
    "and we will continue where we stopped."
)
TOPUP_NEEDED = (
    "Your balance is {balance} {unit}; an answer may cost up to {needed} {unit}. "
    "Top up to continue, and I will answer your next message."
)
VOICE_TOO_LONG = (
    "That voice message is longer than I can listen to: up to {limit} minutes, please. "
    "Send a shorter one, or write to me."
)
VOICE_NOT_HEARD = "I could not make out any words in that voice message. Could you say it again, or write to me?"
