WELCOME_NEW = (
    "Hello, {name}! I am your AI companion. Write to me about anything that is on your mind, and I will answer."
)
WELCOME_BACK = "Welcome back, {name}! Write to me whenever you are ready."
