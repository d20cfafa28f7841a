-- Wakes the outbox relay (`LISTEN outbox_events`) as soon as an event is written; the relay also
-- polls, so a missed notification only delays publishing. One notification per statement: a
-- checkout that writes several events wakes the relay once, at commit.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify
    AFTER INSERT ON outbox
    FOR EACH STATEMENT
    EXECUTE FUNCTION outbox_notify();
