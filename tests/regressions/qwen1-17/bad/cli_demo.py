import os
import platform
import signal
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.generation import GenerationConfig

tokenizer = AutoTokenizer.from_pretrained("Qwen-7B-Chat", trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained("Qwen-7B-Chat", device_map="auto", trust_remote_code=True).eval()
model.generation_config = GenerationConfig.from_pretrained("Qwen-7B-Chat", trust_remote_code=True)

stop_stream = False


def signal_handler(signal, frame):
    global stop_stream
    stop_stream = True


def clear_screen():
    if platform.system() == "Windows":
        os.system("cls")
    else:
        os.system("clear")


def print_history(history):
    for pair in history:
        print(f"\nUser：{pair[0]}\nQwen-7B：{pair[1]}")


def main():
    history, response = [], ''
    global stop_stream
    clear_screen()
    while True:
        query = input("\nUser：")
        if query.strip() == "stop":
            break
        if query.strip() == "clear":
            history = []
            clear_screen()
            continue
        for response in model.chat(tokenizer, query, history=history, stream=True):
            if stop_stream:
                stop_stream = False
                break
            else:
                clear_screen()
                print_history(history)
                print(f"\nUser: {query}")
                print("\nQwen-7B：", end="")
                print(response)

        history.append((query, response))


if __name__ == "__main__":
    main()
