import { render } from "preact";
import { App } from "./app";
import "./styles.css";
import "./chat/chat.css";

render(<App />, document.getElementById("app")!);
