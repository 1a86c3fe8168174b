import { type ComponentChildren, createContext } from "preact";
import { useContext, useEffect, useMemo, useState } from "preact/hooks";
import type { SocketState, UserSocket } from "../../../client";
import { client, type Schemas } from "./client";

/** The signed-in user and their realtime socket (one per device: the chat list, reads, presence). */
export interface Session {
  me: Schemas["User"];
  realtime: UserSocket;
  /** The realtime socket's state, for the connection banner. */
  connection: SocketState;
  setMe(user: Schemas["User"]): void;
  signOut(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

/** The session of the signed-in screens (only rendered inside SessionProvider). */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}

/** Opens the realtime socket for `me` while mounted and provides the session to the screens below. */
export function SessionProvider({
  me,
  setMe,
  children,
}: {
  me: Schemas["User"];
  setMe(user: Schemas["User"] | null): void;
  children: ComponentChildren;
}) {
  const realtime = useMemo(() => client.userSocket(), []);
  const [connection, setConnection] = useState<SocketState>(realtime.state);
  useEffect(() => {
    const off = realtime.on("state", setConnection);
    realtime.start();
    return () => {
      off();
      realtime.close();
    };
  }, [realtime]);
  const session: Session = {
    me,
    realtime,
    connection,
    setMe,
    signOut: async () => {
      await client.auth.signOut();
      setMe(null);
    },
  };
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}
