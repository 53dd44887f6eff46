-- wrk script: sign-in flood with valid credentials from $LOGIN_BODY (a JSON object).
wrk.method = "POST"
wrk.path = "/api/v1/auth/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("LOGIN_BODY")
